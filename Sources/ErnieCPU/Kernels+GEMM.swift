/// Numeric kernels of the CPU backend.
enum Kernels {}

@inline(__always)
func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}

@inline(__always)
func load4(_ p: UnsafeMutablePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}

@inline(__always)
func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
}

extension Kernels {
    /// `out[t, n] = Σ_k x[t, k] · w[n, k] (+ bias[n])` for `t < rows`, `n < n`; `x` rows are `k` apart,
    /// `w` rows `k` apart, `out` rows `ldo` apart. Multi-threaded over `n`.
    static func matmulTransposed(
        x: UnsafePointer<Float>, rows: Int, w: UnsafePointer<Float>, n: Int, k: Int,
        bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        guard rows > 0, n > 0 else { return }
        let px = SharedPointer(x), pw = SharedPointer(w), po = SharedPointer(out)
        let pb = bias.map { SharedPointer($0) }
        Parallel.forRanges(n, alignment: 4, costPerItem: rows * k) { range in
            matmulBlock(
                x: px.base, rows: rows, w: pw.base, nRange: range, k: k, bias: pb?.base, out: po.base, ldo: ldo
            )
        }
    }

    /// One thread's share: output columns `nRange`.
    static func matmulBlock(
        x: UnsafePointer<Float>, rows: Int, w: UnsafePointer<Float>, nRange: Range<Int>, k: Int,
        bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        // Blocks of weight rows small enough to stay in L2 while every activation row streams past.
        let blockRows = max(4, min(64, (96 * 1024) / max(4 * k, 1)) & ~1)
        var n0 = nRange.lowerBound
        while n0 < nRange.upperBound {
            let n1 = min(nRange.upperBound, n0 + blockRows)
            var t = 0
            while t + 4 <= rows {
                tile4(x: x + t * k, w: w, nRange: n0..<n1, k: k, out: out + t * ldo, ldo: ldo)
                t += 4
            }
            while t < rows {
                rowTimesBlock(x: x + t * k, w: w, nRange: n0..<n1, k: k, out: out + t * ldo)
                t += 1
            }
            n0 = n1
        }
        if let bias {
            for t in 0..<rows {
                let o = out + t * ldo
                for j in nRange { o[j] += bias[j] }
            }
        }
    }

    /// Four activation rows against weight rows `nRange`, two weight rows at a time.
    @inline(__always)
    static func tile4(
        x: UnsafePointer<Float>, w: UnsafePointer<Float>, nRange: Range<Int>, k: Int,
        out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        let x0 = x, x1 = x + k, x2 = x + 2 * k, x3 = x + 3 * k
        let k4 = k & ~3
        var j = nRange.lowerBound
        while j + 2 <= nRange.upperBound {
            let w0 = w + j * k, w1 = w0 + k
            var a00 = SIMD4<Float>(), a01 = SIMD4<Float>(), a10 = SIMD4<Float>(), a11 = SIMD4<Float>()
            var a20 = SIMD4<Float>(), a21 = SIMD4<Float>(), a30 = SIMD4<Float>(), a31 = SIMD4<Float>()
            var i = 0
            while i < k4 {
                let v0 = load4(w0 + i), v1 = load4(w1 + i)
                let b0 = load4(x0 + i)
                a00 += b0 * v0
                a01 += b0 * v1
                let b1 = load4(x1 + i)
                a10 += b1 * v0
                a11 += b1 * v1
                let b2 = load4(x2 + i)
                a20 += b2 * v0
                a21 += b2 * v1
                let b3 = load4(x3 + i)
                a30 += b3 * v0
                a31 += b3 * v1
                i += 4
            }
            var s00 = a00.sum(), s01 = a01.sum(), s10 = a10.sum(), s11 = a11.sum()
            var s20 = a20.sum(), s21 = a21.sum(), s30 = a30.sum(), s31 = a31.sum()
            while i < k {
                s00 += x0[i] * w0[i]
                s01 += x0[i] * w1[i]
                s10 += x1[i] * w0[i]
                s11 += x1[i] * w1[i]
                s20 += x2[i] * w0[i]
                s21 += x2[i] * w1[i]
                s30 += x3[i] * w0[i]
                s31 += x3[i] * w1[i]
                i += 1
            }
            out[j] = s00
            out[j + 1] = s01
            out[ldo + j] = s10
            out[ldo + j + 1] = s11
            out[2 * ldo + j] = s20
            out[2 * ldo + j + 1] = s21
            out[3 * ldo + j] = s30
            out[3 * ldo + j + 1] = s31
            j += 2
        }
        if j < nRange.upperBound {
            for r in 0..<4 {
                out[r * ldo + j] = dot(x + r * k, w + j * k, k)
            }
        }
    }

    /// One activation row against weight rows `nRange`, one weight row at a time (the decode path: a single
    /// sequential stream through the weights is what the memory system serves fastest).
    @inline(__always)
    static func rowTimesBlock(
        x: UnsafePointer<Float>, w: UnsafePointer<Float>, nRange: Range<Int>, k: Int, out: UnsafeMutablePointer<Float>
    ) {
        for j in nRange {
            out[j] = dot(x, w + j * k, k)
        }
    }

    /// `Σ a[i] · b[i]` for `i < n`.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD4<Float>(), acc1 = SIMD4<Float>(), acc2 = SIMD4<Float>(), acc3 = SIMD4<Float>()
        var i = 0
        while i + 16 <= n {
            acc0 += load4(a + i) * load4(b + i)
            acc1 += load4(a + i + 4) * load4(b + i + 4)
            acc2 += load4(a + i + 8) * load4(b + i + 8)
            acc3 += load4(a + i + 12) * load4(b + i + 12)
            i += 16
        }
        while i + 4 <= n {
            acc0 += load4(a + i) * load4(b + i)
            i += 4
        }
        var s = ((acc0 + acc1) + (acc2 + acc3)).sum()
        while i < n {
            s += a[i] * b[i]
            i += 1
        }
        return s
    }

    /// `y[i] += a · x[i]` for `i < n`.
    @inline(__always)
    static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let av = SIMD4<Float>(repeating: a)
        var i = 0
        while i + 4 <= n {
            store4(load4(y + i) + av * load4(x + i), y + i)
            i += 4
        }
        while i < n {
            y[i] += a * x[i]
            i += 1
        }
    }

    /// `y[i] += a0·x0[i] + a1·x1[i] + a2·x2[i] + a3·x3[i]` for `i < n` (one pass over `y` for four rows).
    @inline(__always)
    static func axpy4(
        _ a0: Float, _ x0: UnsafePointer<Float>, _ a1: Float, _ x1: UnsafePointer<Float>, _ a2: Float,
        _ x2: UnsafePointer<Float>, _ a3: Float, _ x3: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        let b0 = SIMD4<Float>(repeating: a0), b1 = SIMD4<Float>(repeating: a1)
        let b2 = SIMD4<Float>(repeating: a2), b3 = SIMD4<Float>(repeating: a3)
        var i = 0
        while i + 4 <= n {
            let sum = (b0 * load4(x0 + i) + b1 * load4(x1 + i)) + (b2 * load4(x2 + i) + b3 * load4(x3 + i))
            store4(load4(y + i) + sum, y + i)
            i += 4
        }
        while i < n {
            y[i] += (a0 * x0[i] + a1 * x1[i]) + (a2 * x2[i] + a3 * x3[i])
            i += 1
        }
    }
}
