import ErnieModel

/// `table[tokens]` (exact).
struct EmbedCase: SelfTestCase {
    let tokens: Int
    var op: String { "embed" }
    var detail: String { "T=\(tokens)" }
    var tolerance: Float { 0 }

    func run<B: Backend>(_ bag: WeightBag<B>) throws -> [Float] {
        let s = bag.shape
        let ids = SelfTestData.integers(tokens, bound: s.vocab, seed: UInt64(tokens))
        let table = try bag.weight("embedding", [s.vocab, s.hidden], scale: 1)
        return try bag.step(bag.identityBatch(tokens, tokens: ids)) {
            let x = try bag.backend.embed(table)
            let g = try bag.backend.gatherRows(x, indices: [tokens - 1, 0, tokens / 2, 0])
            return try bag.backend.toHost(x) + bag.backend.toHost(g)
        }
    }
}

/// Residual add + RMSNorm, with and without a residual.
struct RMSNormCase: SelfTestCase {
    let tokens: Int
    var op: String { "rmsnorm" }
    var detail: String { "T=\(tokens)" }
    /// Two bf16 roundings (normalised value, then times the weight) that the float32 reference does not make.
    var tolerance: Float { 1.6e-2 }
    var pathTolerance: Float? { 1.6e-2 }

    func run<B: Backend>(_ bag: WeightBag<B>) throws -> [Float] {
        let h = bag.shape.hidden
        let norm = try bag.weight("norm", [h], scale: 2)
        return try bag.step(bag.identityBatch(tokens)) {
            let x = try bag.activation("x\(tokens)", rows: tokens, columns: h, scale: 3)
            let r = try bag.activation("r\(tokens)", rows: tokens, columns: h, scale: 3)
            let (normed, residual) = try bag.backend.addRMSNorm(x, residual: r, weight: norm, eps: 1e-5)
            let (alone, _) = try bag.backend.addRMSNorm(x, residual: nil, weight: norm, eps: 1e-6)
            return try bag.backend.toHost(normed) + bag.backend.toHost(residual) + bag.backend.toHost(alone)
        }
    }
}

/// `x · Wᵀ (+ bias)` for one of the model's projections.
struct LinearCase: SelfTestCase {
    let name: String
    let tokens: Int
    let outFeatures: Int
    let inFeatures: Int
    var bias = false
    var op: String { "linear" }
    var detail: String {
        "\(name) T=\(tokens) [\(tokens)x\(inFeatures)]·[\(outFeatures)x\(inFeatures)]ᵀ" + (bias ? " + bias" : "")
    }
    var tolerance: Float { 1e-2 }
    var pathTolerance: Float? { 1e-2 }

    func run<B: Backend>(_ bag: WeightBag<B>) throws -> [Float] {
        let w = try bag.weight(name, [outFeatures, inFeatures], scale: (3 / Float(inFeatures)).squareRoot())
        let b = bias ? try bag.weight(name + "-bias", [outFeatures], scale: 0.5) : nil
        return try bag.step(bag.identityBatch(tokens)) {
            let x = try bag.activation("in\(inFeatures)-\(tokens)", rows: tokens, columns: inFeatures)
            return try bag.backend.toHost(bag.backend.linear(x, w, bias: b))
        }
    }
}

/// `silu(gate) · up`.
struct SiLUCase: SelfTestCase {
    let tokens: Int
    var op: String { "silu" }
    var detail: String { "T=\(tokens) I=\(width)" }
    /// Two bf16 roundings (SiLU, then the product).
    var tolerance: Float { 1.6e-2 }
    var pathTolerance: Float? { 1.6e-2 }
    var width: Int

    func run<B: Backend>(_ bag: WeightBag<B>) throws -> [Float] {
        try bag.step(bag.identityBatch(tokens)) {
            let x = try bag.activation("gu\(tokens)", rows: tokens, columns: 2 * width, scale: 6)
            return try bag.backend.toHost(bag.backend.siluAndMul(x))
        }
    }
}

/// Dummy weights from `makeRandomWeight` (bf16-rounded on the GPU, float32 in the reference), read back through an
/// embedding lookup and a projection (the protocol exposes weights no other way).
struct RandomWeightCase: SelfTestCase {
    var op: String { "random" }
    var detail: String { "[4x333] rows, [1000x333] projection" }
    var tolerance: Float { 1e-2 }

    func run<B: Backend>(_ bag: WeightBag<B>) throws -> [Float] {
        let a = try bag.backend.makeRandomWeight(shape: [1000, 333], precision: .standard, scale: 0.5, seed: 42)
        let table = try bag.backend.makeRandomWeight(shape: [4, 333], precision: .standard, scale: 0.5, seed: 44)
        return try bag.step(bag.identityBatch(4)) {
            let rows = try bag.backend.embed(table)
            return try bag.backend.toHost(rows) + bag.backend.toHost(bag.backend.linear(rows, a, bias: nil))
        }
    }
}
