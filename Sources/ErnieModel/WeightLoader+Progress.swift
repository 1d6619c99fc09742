/// How far `WeightLoader` has got, as bytes of weights built on the backend out of the model's total.
///
/// Bytes count standard weights as bf16 (2 bytes per element) and float32 weights (router, correction bias) as 4,
/// whatever the checkpoint's or the backend's element type: for a released bf16 checkpoint that is the bytes read,
/// and on the GPU the bytes uploaded. The loader reports 0 first and `bytesTotal` last, never going backwards.
public struct WeightLoadProgress: Sendable, Equatable {
    public var bytesLoaded: Int
    public var bytesTotal: Int

    public init(bytesLoaded: Int, bytesTotal: Int) {
        self.bytesLoaded = bytesLoaded
        self.bytesTotal = bytesTotal
    }

    /// `bytesLoaded / bytesTotal` in `0...1` (1 for an empty model).
    public var fraction: Double {
        bytesTotal > 0 ? min(max(Double(bytesLoaded) / Double(bytesTotal), 0), 1) : 1
    }

    public var isComplete: Bool { bytesLoaded >= bytesTotal }
}

/// Called by `WeightLoader` on the loading thread after each weight reaches the backend.
public typealias WeightLoadProgressHandler = (WeightLoadProgress) -> Void

/// A weight source that passes every request to `inner` and, once it is answered, reports the bytes built so far.
///
/// The running count is a `CountingSource` fed the same requests, so it ends exactly at
/// `WeightLoader.parameterCounts(config:layout:).bf16Bytes`, the total the loader announces.
final class ProgressSource<S: WeightSource>: WeightSource {
    typealias W = S.W
    private let inner: S
    private let counter = CountingSource()
    private let total: Int
    private let report: WeightLoadProgressHandler

    init(_ inner: S, total: Int, report: @escaping WeightLoadProgressHandler) {
        self.inner = inner
        self.total = total
        self.report = report
        report(WeightLoadProgress(bytesLoaded: 0, bytesTotal: total))
    }

    private func built<T>(_ value: T, count: () throws -> Void) rethrows -> T {
        try count()
        report(WeightLoadProgress(bytesLoaded: min(counter.bf16Bytes, total), bytesTotal: total))
        return value
    }

    func tensor(_ name: String, shape: [Int], kind: WeightKind, slice: TensorSlice?) throws -> W {
        try built(inner.tensor(name, shape: shape, kind: kind, slice: slice)) {
            try counter.tensor(name, shape: shape, kind: kind, slice: slice)
        }
    }

    func rows(_ names: [String], shapes: [[Int]], kind: WeightKind, slices: [TensorSlice]?) throws -> W {
        try built(inner.rows(names, shapes: shapes, kind: kind, slices: slices)) {
            try counter.rows(names, shapes: shapes, kind: kind, slices: slices)
        }
    }

    func experts(
        prefix: String, count: Int, hidden: Int, width: Int, shard: ExpertShard?
    ) throws -> (gateUp: W, down: W) {
        try built(inner.experts(prefix: prefix, count: count, hidden: hidden, width: width, shard: shard)) {
            _ = try counter.experts(prefix: prefix, count: count, hidden: hidden, width: width, shard: shard)
        }
    }

    func correctionBias(prefix: String, count: Int) throws -> W? {
        try built(inner.correctionBias(prefix: prefix, count: count)) {
            _ = try counter.correctionBias(prefix: prefix, count: count)
        }
    }
}

extension WeightLoader {
    /// `source`, reporting to `progress` when there is a handler.
    static func build<S: WeightSource>(
        config: ModelConfig, layout: ParallelLayout, source: S, progress: WeightLoadProgressHandler?
    ) throws -> ModelWeights<S.W> {
        guard let progress else { return try build(config: config, layout: layout, source: source) }
        let total = parameterCounts(config: config, layout: layout).bf16Bytes
        return try build(config: config, layout: layout, source: ProgressSource(source, total: total, report: progress))
    }
}
