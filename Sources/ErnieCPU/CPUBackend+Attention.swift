import ErnieModel
import Foundation

extension CPUBackend {
    public func attention(qkv: CPUTensor, layer: Int, shape: AttentionShape) throws -> CPUTensor {
        let batch = try currentBatch()
        guard let layout = kvLayout, layer >= 0, layer < layout.numLayers else {
            throw ModelError.backend("attention: layer \(layer) has no KV cache")
        }
        let nq = shape.numHeads, nkv = shape.numKVHeads, hd = shape.headDim
        guard nkv == layout.numKVHeads, hd == layout.headDim, nkv > 0, nq % nkv == 0, hd % 2 == 0 else {
            throw ModelError.backend("attention shape \(shape) does not match the KV cache \(layout)")
        }
        guard qkv.cols == (nq + 2 * nkv) * hd, qkv.rows == batch.tokens.count else {
            throw ModelError.backend("attention: qkv is [\(qkv.rows), \(qkv.cols)], expected "
                + "[\(batch.tokens.count), \((nq + 2 * nkv) * hd)]")
        }
        let tokens = qkv.rows
        let inv = inverseFrequency(theta: shape.ropeTheta, headDim: hd)
        let queries = CPUTensor(rows: tokens, cols: nq * hd)
        let kCache = keyCache[layer].pointer, vCache = valueCache[layer].pointer

        // Phase 1: RoPE on q and k, K/V into the cache (every token of the step before any attention reads).
        let pQKV = SharedPointer(qkv.data), pQ = SharedPointer(queries.data)
        let pK = SharedPointer(kCache), pV = SharedPointer(vCache)
        let positions = self.positions, slots = self.slots
        let width = qkv.cols
        inv.withUnsafeBufferPointer { invBuffer in
            let pInv = SharedPointer(invBuffer.baseAddress!)
            Parallel.forRanges(tokens, costPerItem: (nq + nkv) * hd * 8) { range in
                var cosTable = [Float](repeating: 0, count: hd / 2)
                var sinTable = [Float](repeating: 0, count: hd / 2)
                for t in range {
                    let p = Float(positions[t])
                    for i in 0..<(hd / 2) {
                        let angle = p * pInv.base[i]
                        cosTable[i] = cosf(angle)
                        sinTable[i] = sinf(angle)
                    }
                    let row = pQKV.base + t * width
                    for h in 0..<nq {
                        rotate(row + h * hd, into: pQ.base + t * nq * hd + h * hd, cos: cosTable, sin: sinTable)
                    }
                    let slotBase = Int(slots[t]) * nkv * hd
                    for h in 0..<nkv {
                        rotate(row + (nq + h) * hd, into: pK.base + slotBase + h * hd, cos: cosTable, sin: sinTable)
                        (pV.base + slotBase + h * hd).update(from: row + (nq + nkv + h) * hd, count: hd)
                    }
                }
            }
        }

        // Phase 2: causal attention of every (token, head) over its sequence's pages.
        let out = CPUTensor(rows: tokens, cols: nq * hd)
        let pOut = SharedPointer(out.data)
        let group = nq / nkv
        let scale = Float(1 / Double(hd).squareRoot())
        let pageSize = layout.pageSize
        let sequences = batch.sequences, sequenceOfToken = self.sequenceOfToken
        let maxContext = sequences.map(\.endPosition).max() ?? 0
        let averageContext = max(1, sequences.reduce(0) { $0 + $1.endPosition * $1.tokenCount } / max(tokens, 1))
        Parallel.forRanges(tokens * nq, costPerItem: averageContext * hd * 2) { range in
            var scores = [Float](repeating: 0, count: max(maxContext, 1))
            scores.withUnsafeMutableBufferPointer { scoreBuffer in
                let score = scoreBuffer.baseAddress!
                for item in range {
                    let t = item / nq, h = item % nq, kvh = h / group
                    let seq = sequences[sequenceOfToken[t]]
                    let length = Int(positions[t]) + 1
                    let q = pQ.base + t * nq * hd + h * hd
                    var m = -Float.infinity
                    for j in 0..<length {
                        let s = Kernels.dot(q, pK.base + (seq.slot(j, pageSize) * nkv + kvh) * hd, hd) * scale
                        score[j] = s
                        if s > m { m = s }
                    }
                    var sum: Float = 0
                    for j in 0..<length {
                        let e = expf(score[j] - m)
                        score[j] = e
                        sum += e
                    }
                    let o = pOut.base + t * nq * hd + h * hd
                    let invSum = 1 / sum
                    var j = 0
                    while j + 4 <= length {
                        let v0 = pV.base + (seq.slot(j, pageSize) * nkv + kvh) * hd
                        let v1 = pV.base + (seq.slot(j + 1, pageSize) * nkv + kvh) * hd
                        let v2 = pV.base + (seq.slot(j + 2, pageSize) * nkv + kvh) * hd
                        let v3 = pV.base + (seq.slot(j + 3, pageSize) * nkv + kvh) * hd
                        Kernels.axpy4(
                            score[j] * invSum, v0, score[j + 1] * invSum, v1, score[j + 2] * invSum, v2,
                            score[j + 3] * invSum, v3, o, hd
                        )
                        j += 4
                    }
                    while j < length {
                        Kernels.axpy(score[j] * invSum, pV.base + (seq.slot(j, pageSize) * nkv + kvh) * hd, o, hd)
                        j += 1
                    }
                }
            }
        }
        return out
    }

    /// `1 / theta^(2i/d)` in float32, as transformers computes it.
    func inverseFrequency(theta: Double, headDim: Int) -> [Float] {
        let key = RopeKey(theta: theta, headDim: headDim)
        if let cached = inverseFrequencies[key] { return cached }
        let base = Float(theta)
        let values = (0..<(headDim / 2)).map { i in 1 / powf(base, Float(2 * i) / Float(headDim)) }
        inverseFrequencies[key] = values
        return values
    }
}

/// Interleaved (GPT-J style) rotation of one head: pairs `(x[2i], x[2i+1])` by angle `i`.
@inline(__always)
private func rotate(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, cos: [Float], sin: [Float]) {
    for i in 0..<cos.count {
        let a = x[2 * i], b = x[2 * i + 1]
        y[2 * i] = a * cos[i] - b * sin[i]
        y[2 * i + 1] = b * cos[i] + a * sin[i]
    }
}

extension ForwardBatch.Sequence {
    /// KV slot of position `position`.
    @inline(__always)
    func slot(_ position: Int, _ pageSize: Int) -> Int {
        Int(pages[position / pageSize]) * pageSize + position % pageSize
    }
}
