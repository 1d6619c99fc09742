import ErnieModel

/// One self-test case: the same computation on the CUDA backend and on a reference backend, outputs compared.
protocol SelfTestCase {
    /// The op family (`--op` filter): embed, gather, rmsnorm, linear, silu, attention, moe, sample, random, forward.
    var op: String { get }
    /// What exactly runs (shapes).
    var detail: String { get }
    /// Largest acceptable error (see `compare`).
    var tolerance: Float { get }
    /// Runs the case and returns its outputs flattened.
    func run<B: Backend>(_ bag: WeightBag<B>) throws -> [Float]
    /// The error between the CUDA outputs and the reference outputs; default `max |a − b| / max |b|`.
    func compare(cuda: [Float], reference: [Float]) -> (error: Float, note: String)
    /// When set, the case also runs on a CUDA backend with every fast path off (`PerfOptions.reference`) and the
    /// fast path's outputs must be within this of the reference path's (same measure as `compare`).
    var pathTolerance: Float? { get }
    /// Whether the case runs whole decode steps and so is run with CUDA graphs (and compared with the same fast
    /// paths run eagerly).
    var usesGraphs: Bool { get }
}

extension SelfTestCase {
    func compare(cuda: [Float], reference: [Float]) -> (error: Float, note: String) {
        (SelfTestData.normalizedError(cuda, reference), "")
    }

    var pathTolerance: Float? { nil }
    var usesGraphs: Bool { false }
}

/// Host tensors generated once per shape group and shared by both backends.
final class HostTensorCache {
    private var tensors: [String: HostTensor] = [:]

    func tensor(_ name: String, _ shape: [Int], scale: Float) -> HostTensor {
        if let t = tensors[name], t.shape == shape { return t }
        let t = SelfTestData.tensor(name, shape, scale: scale)
        tensors[name] = t
        return t
    }

    func removeAll() { tensors.removeAll() }
}

/// A backend with the weights the cases have uploaded to it (by name).
final class WeightBag<B: Backend> {
    let backend: B
    let shape: SelfTestShape
    let pageSize: Int
    private let hosts: HostTensorCache
    private var weights: [String: B.Weight] = [:]

    init(backend: B, shape: SelfTestShape, hosts: HostTensorCache, pageSize: Int) {
        self.backend = backend
        self.shape = shape
        self.hosts = hosts
        self.pageSize = pageSize
    }

    /// A weight of random bf16-exact values uniform in `(-scale, scale)`.
    func weight(_ name: String, _ shape: [Int], scale: Float, precision: WeightPrecision = .standard) throws -> B.Weight
    {
        if let w = weights[name] { return w }
        let w = try backend.makeWeight(hosts.tensor(name, shape, scale: scale), precision: precision)
        weights[name] = w
        return w
    }

    /// `[rows, columns]` random values as an activation: uploaded as a table, then gathered by `embed` inside the
    /// current step (whose tokens must be `0..<rows`).
    func activation(_ name: String, rows: Int, columns: Int, scale: Float = 1) throws -> B.Tensor {
        try backend.embed(weight("act:" + name, [rows, columns], scale: scale))
    }

    /// A one-sequence step over tokens `0..<count` (or the given ids).
    func identityBatch(_ count: Int, tokens: [Int32]? = nil) -> ForwardBatch {
        let pages = (count + pageSize - 1) / pageSize
        return ForwardBatch(
            tokens: tokens ?? (0..<count).map { Int32($0) },
            sequences: [
                .init(tokenOffset: 0, tokenCount: count, startPosition: 0, pages: (0..<pages).map { Int32($0) })
            ],
            pageSize: pageSize
        )
    }

    /// Runs `body` inside a step over `batch`.
    func step(_ batch: ForwardBatch, _ body: () throws -> [Float]) throws -> [Float] {
        try backend.beginStep(batch)
        do {
            let out = try body()
            try backend.endStep()
            return out
        } catch {
            try? backend.endStep()
            throw error
        }
    }
}
