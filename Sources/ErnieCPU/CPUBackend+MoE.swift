import ErnieModel
import Foundation

extension CPUBackend {
    /// transformers' `Ernie4_5_MoeSparseMoeBlock`: FP32 router, softmax, top-k on `p + correction bias`, weights
    /// = the unbiased `p` of the chosen experts divided by `max(Σ, normMin)`, routed SwiGLU experts summed with
    /// those weights, plus the shared-expert MLP unweighted.
    ///
    /// With expert parallelism (`shape.expertRange` not every expert) the weights stack only the experts of the
    /// range; routing is over all experts and tokens routed elsewhere get nothing from the missing ones.
    public func moe(_ x: CPUTensor, weights: MoEWeights<CPUWeight>, shape: MoEShape) throws -> CPUTensor {
        let tokens = x.rows, h = x.cols
        let e = shape.numExperts, inter = shape.intermediateSize, k = shape.topK
        let local = shape.expertRange
        let held = local.count
        guard k >= 1, k <= e, local.lowerBound >= 0, local.upperBound <= e,
              weights.router.rows == e, weights.router.cols == h,
              weights.expertsGateUp.rows == held * 2 * inter, weights.expertsGateUp.cols == h,
              weights.expertsDown.rows == held * h, weights.expertsDown.cols == inter
        else { throw ModelError.backend("MoE weights do not match \(shape) for hidden size \(h)") }
        if let bias = weights.correctionBias, bias.count != e {
            throw ModelError.backend("correction bias of \(bias.count) for \(e) experts")
        }
        if let b = weights.expertsGateUpBias, b.count != held * 2 * inter {
            throw ModelError.backend("expert gate|up bias of \(b.count), expected \(held * 2 * inter)")
        }
        if let b = weights.expertsDownBias, b.count != held * h {
            throw ModelError.backend("expert down bias of \(b.count), expected \(held * h)")
        }

        // Router (float32), softmax, selection, renormalised weights.
        let logits = try linear(x, weights.router, bias: nil)
        let correction = weights.correctionBias.map { bias in
            bias.withFloats { Array(UnsafeBufferPointer(start: $0, count: e)) }
        }
        var routes = [[(token: Int, weight: Float)]](repeating: [], count: held)
        var probabilities = [Float](repeating: 0, count: e)
        var biased = [Float](repeating: 0, count: e)
        for t in 0..<tokens {
            let row = logits.data + t * e
            var m = -Float.infinity
            for i in 0..<e where row[i] > m { m = row[i] }
            var sum: Float = 0
            for i in 0..<e {
                probabilities[i] = expf(row[i] - m)
                sum += probabilities[i]
            }
            for i in 0..<e {
                probabilities[i] /= sum
                biased[i] = probabilities[i] + (correction?[i] ?? 0)
            }
            let chosen = Self.topIndices(biased, k)
            var total: Float = 0
            for i in chosen { total += probabilities[i] }
            let denominator = max(total, shape.normMin)
            for i in chosen where local.contains(i) {
                routes[i - local.lowerBound].append((t, probabilities[i] / denominator))
            }
        }

        let out = CPUTensor(rows: tokens, cols: h)
        // Routed experts held here, in expert order (`expert` indexes the held ones).
        for expert in 0..<held where !routes[expert].isEmpty {
            let assigned = routes[expert]
            let input = CPUTensor(rows: assigned.count, cols: h)
            for (r, a) in assigned.enumerated() {
                (input.data + r * h).update(from: x.data + a.token * h, count: h)
            }
            let gateUp = CPUTensor(rows: assigned.count, cols: 2 * inter)
            withFloats(weights.expertsGateUpBias) { bias in
                Kernels.matmulTransposed(
                    x: input.data, rows: assigned.count, weight: weights.expertsGateUp, firstRow: expert * 2 * inter,
                    n: 2 * inter, k: h, bias: bias.map { $0 + expert * 2 * inter }, out: gateUp.data, ldo: 2 * inter
                )
            }
            let activated = try siluAndMul(gateUp)
            let down = CPUTensor(rows: assigned.count, cols: h)
            withFloats(weights.expertsDownBias) { bias in
                Kernels.matmulTransposed(
                    x: activated.data, rows: assigned.count, weight: weights.expertsDown, firstRow: expert * h,
                    n: h, k: inter, bias: bias.map { $0 + expert * h }, out: down.data, ldo: h
                )
            }
            for (r, a) in assigned.enumerated() {
                Kernels.axpy(a.weight, down.data + r * h, out.data + a.token * h, h)
            }
        }
        // Shared experts, unweighted.
        if let shared = weights.shared {
            let gateUp = try linear(x, shared.gateUp.weight, bias: shared.gateUp.bias)
            let sharedOut = try linear(try siluAndMul(gateUp), shared.down.weight, bias: shared.down.bias)
            Kernels.axpy(1, sharedOut.data, out.data, tokens * h)
        }
        return out
    }

    /// Indices of the `k` largest values, largest first, ties to the lower index.
    static func topIndices(_ values: [Float], _ k: Int) -> [Int] {
        var chosen: [Int] = []
        chosen.reserveCapacity(k + 1)
        for i in values.indices {
            let v = values[i]
            if chosen.count == k, let last = chosen.last, !(v > values[last]) { continue }
            var pos = chosen.count
            while pos > 0 && v > values[chosen[pos - 1]] { pos -= 1 }
            chosen.insert(i, at: pos)
            if chosen.count > k { chosen.removeLast() }
        }
        return chosen
    }
}
