/// Element counts of a model's weights, by the precision they are kept in.
public struct ParameterCounts: Sendable, Equatable {
    /// Weights in the backend's compute format (bf16 in the released checkpoints).
    public var standard: Int
    /// Weights kept in float32 (MoE routers and correction biases).
    public var float32: Int

    public var total: Int { standard + float32 }

    /// Bytes of these weights with the standard ones in bf16 and the rest in float32: the size of a released bf16
    /// checkpoint and of the weights on the GPU.
    public var bf16Bytes: Int { 2 * standard + 4 * float32 }
}

extension WeightLoader {
    /// How many elements the loader reads for `config` (the LM head counted once when tied), from the same
    /// structure description the loader uses; with `layout`, for that rank's shard (the padded LM-head shard
    /// included).
    public static func parameterCounts(config: ModelConfig, layout: ParallelLayout? = nil) -> ParameterCounts {
        let counter = CountingSource()
        // The counting source never throws.
        _ = try? build(config: config, layout: layout ?? .whole(config), source: counter)
        return ParameterCounts(standard: counter.standard, float32: counter.float32)
    }
}

/// A weight source that only adds up shapes.
final class CountingSource: WeightSource {
    typealias W = Void
    var standard = 0
    var float32 = 0

    /// The counted weights' size with standard weights in bf16 (2 bytes) and float32 ones in 4 bytes.
    var bf16Bytes: Int { 2 * standard + 4 * float32 }

    private func add(_ count: Int, _ kind: WeightKind) {
        if kind.precision == .float32 { float32 += count } else { standard += count }
    }

    func tensor(_ name: String, shape: [Int], kind: WeightKind, slice: TensorSlice?) throws {
        add((slice?.shape(of: shape) ?? shape).reduce(1, *), kind)
    }

    func rows(_ names: [String], shapes: [[Int]], kind: WeightKind, slices: [TensorSlice]?) throws {
        for (i, shape) in shapes.enumerated() {
            let sliced = slices.map { i < $0.count ? $0[i].shape(of: shape) : shape } ?? shape
            add(sliced.reduce(1, *), kind)
        }
    }

    func experts(
        prefix: String, count: Int, hidden: Int, width: Int, shard: ExpertShard?
    ) throws -> (gateUp: Void, down: Void) {
        let experts = shard?.experts.count ?? count
        let columns = shard?.width.count ?? width
        add(experts * 3 * hidden * columns, .linear)
        return ((), ())
    }

    func correctionBias(prefix: String, count: Int) throws -> Void? {
        add(count, .router)
        return ()
    }
}
