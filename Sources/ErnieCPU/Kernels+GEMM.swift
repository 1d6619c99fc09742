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

// The weight element types live in this file on purpose: debug builds compile each file on its own (no whole-module
// optimisation), and the kernels below can only inline `wide4` — one instruction or two — when its body is in the
// same file; a call through the protocol witness per four elements costs as much as the arithmetic.

/// A bfloat16 value as checkpoints store it: the high 16 bits of a float32, so widening it is exact.
struct BFloat16: Sendable {
    var bits: UInt16
}

/// An element type in which the CPU backend keeps weight matrices: float32, or bfloat16 when the checkpoint holds
/// bfloat16. The GEMM kernels read either and widen to float32 as they load, so the products are the same to the
/// bit (the widening is exact and the summation order does not depend on the storage); bfloat16 halves the memory
/// each decode step streams through, which is what limits the matrix-vector products of decode.
protocol WeightElement: Sendable {
    /// `p[0..<4]` as float32.
    static func wide4(_ p: UnsafePointer<Self>) -> SIMD4<Float>
    /// `p[i]` as float32.
    static func wide(_ p: UnsafePointer<Self>, _ i: Int) -> Float
}

extension Float: WeightElement {
    @inline(__always)
    static func wide4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
    }

    @inline(__always)
    static func wide(_ p: UnsafePointer<Float>, _ i: Int) -> Float { p[i] }
}

extension BFloat16: WeightElement {
    @inline(__always)
    static func wide4(_ p: UnsafePointer<BFloat16>) -> SIMD4<Float> {
        let half = UnsafeRawPointer(p).loadUnaligned(as: SIMD4<UInt16>.self)
        return unsafeBitCast(SIMD4<UInt32>(truncatingIfNeeded: half) &<< 16, to: SIMD4<Float>.self)
    }

    @inline(__always)
    static func wide(_ p: UnsafePointer<BFloat16>, _ i: Int) -> Float { Float(bitPattern: UInt32(p[i].bits) << 16) }
}

extension Kernels {
    /// `matmulTransposed` with the weight rows `firstRow..<firstRow + n` of `weight` (`k` columns), whichever
    /// element type the weight is kept in.
    static func matmulTransposed(
        x: UnsafePointer<Float>, rows: Int, weight: CPUWeight, firstRow: Int = 0, n: Int, k: Int,
        bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        switch weight.elements {
        case .float32(let storage):
            matmulTransposed(x: x, rows: rows, w: storage.pointer + firstRow * k, n: n, k: k, bias: bias, out: out,
                             ldo: ldo)
        case .bfloat16(let storage):
            matmulTransposed(x: x, rows: rows, w: storage.pointer + firstRow * k, n: n, k: k, bias: bias, out: out,
                             ldo: ldo)
        }
    }

    /// `out[t, n] = Σ_k x[t, k] · w[n, k] (+ bias[n])` for `t < rows`, `n < n`; `x` rows are `k` apart,
    /// `w` rows `k` apart, `out` rows `ldo` apart. Multi-threaded over `n`.
    static func matmulTransposed<W: WeightElement>(
        x: UnsafePointer<Float>, rows: Int, w: UnsafePointer<W>, n: Int, k: Int,
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
    static func matmulBlock<W: WeightElement>(
        x: UnsafePointer<Float>, rows: Int, w: UnsafePointer<W>, nRange: Range<Int>, k: Int,
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
    static func tile4<W: WeightElement>(
        x: UnsafePointer<Float>, w: UnsafePointer<W>, nRange: Range<Int>, k: Int,
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
                let v0 = W.wide4(w0 + i), v1 = W.wide4(w1 + i)
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
                let v0 = W.wide(w0, i), v1 = W.wide(w1, i)
                s00 += x0[i] * v0
                s01 += x0[i] * v1
                s10 += x1[i] * v0
                s11 += x1[i] * v1
                s20 += x2[i] * v0
                s21 += x2[i] * v1
                s30 += x3[i] * v0
                s31 += x3[i] * v1
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
                out[r * ldo + j] = orderedDot(x + r * k, w + j * k, k)
            }
        }
    }

    /// One activation row against weight rows `nRange`, four weight rows at a time (the decode path: sequential
    /// streams through the weights are what the memory system serves fastest).
    ///
    /// Every output element is summed in exactly the order `tile4` uses (one SIMD4 accumulator over `k & ~3`, its
    /// horizontal sum, then the scalar tail), so a token's result does not depend on how many rows share its batch.
    @inline(__always)
    static func rowTimesBlock<W: WeightElement>(
        x: UnsafePointer<Float>, w: UnsafePointer<W>, nRange: Range<Int>, k: Int, out: UnsafeMutablePointer<Float>
    ) {
        let k4 = k & ~3
        var j = nRange.lowerBound
        while j + 4 <= nRange.upperBound {
            let w0 = w + j * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k
            var a0 = SIMD4<Float>(), a1 = SIMD4<Float>(), a2 = SIMD4<Float>(), a3 = SIMD4<Float>()
            var i = 0
            while i < k4 {
                let b = load4(x + i)
                a0 += b * W.wide4(w0 + i)
                a1 += b * W.wide4(w1 + i)
                a2 += b * W.wide4(w2 + i)
                a3 += b * W.wide4(w3 + i)
                i += 4
            }
            var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
            while i < k {
                s0 += x[i] * W.wide(w0, i)
                s1 += x[i] * W.wide(w1, i)
                s2 += x[i] * W.wide(w2, i)
                s3 += x[i] * W.wide(w3, i)
                i += 1
            }
            out[j] = s0
            out[j + 1] = s1
            out[j + 2] = s2
            out[j + 3] = s3
            j += 4
        }
        while j < nRange.upperBound {
            out[j] = orderedDot(x, w + j * k, k)
            j += 1
        }
    }

    /// `Σ a[i] · b[i]` summed in the GEMM kernels' order: one SIMD4 accumulator, its horizontal sum, the scalar tail.
    @inline(__always)
    static func orderedDot<W: WeightElement>(_ a: UnsafePointer<Float>, _ b: UnsafePointer<W>, _ n: Int) -> Float {
        var acc = SIMD4<Float>()
        var i = 0
        let n4 = n & ~3
        while i < n4 {
            acc += load4(a + i) * W.wide4(b + i)
            i += 4
        }
        var s = acc.sum()
        while i < n {
            s += a[i] * W.wide(b, i)
            i += 1
        }
        return s
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
