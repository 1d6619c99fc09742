import Foundation

extension Kernels {
    /// `out[r] = weight * (x[r] / sqrt(mean(x[r]²) + eps))` per row, float32 as transformers' RMSNorm.
    static func rmsNorm(
        x: UnsafePointer<Float>, rows: Int, cols: Int, weight: UnsafePointer<Float>, eps: Float,
        out: UnsafeMutablePointer<Float>
    ) {
        let px = SharedPointer(x), pw = SharedPointer(weight), po = SharedPointer(out)
        Parallel.forRanges(rows, costPerItem: cols * 4) { range in
            for r in range {
                let xr = px.base + r * cols
                let or = po.base + r * cols
                var acc = SIMD4<Float>()
                var i = 0
                while i + 4 <= cols {
                    let v = load4(xr + i)
                    acc += v * v
                    i += 4
                }
                var sum = acc.sum()
                while i < cols {
                    sum += xr[i] * xr[i]
                    i += 1
                }
                let scale = 1 / (sum / Float(cols) + eps).squareRoot()
                for j in 0..<cols { or[j] = pw.base[j] * (xr[j] * scale) }
            }
        }
    }

    /// `out[r, j] = silu(g[r, j]) · u[r, j]` where row r of `gateUp` is `g | u`.
    static func siluAndMul(_ gateUp: UnsafePointer<Float>, rows: Int, width: Int, out: UnsafeMutablePointer<Float>) {
        let pg = SharedPointer(gateUp), po = SharedPointer(out)
        Parallel.forRanges(rows, costPerItem: width * 8) { range in
            for r in range {
                let g = pg.base + r * 2 * width
                let u = g + width
                let o = po.base + r * width
                for j in 0..<width {
                    let x = g[j]
                    o[j] = x / (1 + expf(-x)) * u[j]
                }
            }
        }
    }
}
