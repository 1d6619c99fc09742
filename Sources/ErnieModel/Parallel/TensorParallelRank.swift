/// One rank's place in a tensor-parallel group: which shard it holds and how it talks to its peers.
public struct TensorParallelRank<B: Backend> {
    public let layout: ParallelLayout
    public let communicator: any Communicator<B>

    public init(layout: ParallelLayout, communicator: any Communicator<B>) {
        self.layout = layout
        self.communicator = communicator
    }

    /// Checks that the layout and the communicator describe the same rank of the same group.
    func check(config: ModelConfig) throws {
        guard communicator.worldSize == layout.tpSize, communicator.rank == layout.rank else {
            throw ParallelError.unsupportedLayout(
                "the communicator is rank \(communicator.rank) of \(communicator.worldSize) but the weights are the "
                    + "shard of rank \(layout.rank) of \(layout.tpSize)")
        }
        try ParallelLayout.validate(config: config, tpSize: layout.tpSize, epSize: layout.epSize)
    }
}

/// A model executor that is one rank of a tensor-parallel group, as `TensorParallelExecutor` drives it.
public protocol ParallelRankExecutor: ModelExecutor {
    /// Makes the whole group give up (peers blocked in a collective throw); called on this rank's thread after a
    /// failed step.
    func abortGroup(reason: String)

    /// `ErnieForward.captureHiddenStates(prompt:)` on this rank; every rank of the group must run it together.
    func captureHiddenStates(prompt: [Int32]) throws -> [HiddenStatePoint: HiddenStateSnapshot]
}

extension ParallelRankExecutor {
    /// A rank that is no `ErnieForward` sees no residual stream.
    public func captureHiddenStates(prompt: [Int32]) throws -> [HiddenStatePoint: HiddenStateSnapshot] {
        throw ModelError.backend("\(type(of: self)) cannot capture hidden states")
    }
}

extension ErnieForward: ParallelRankExecutor {
    public func abortGroup(reason: String) {
        parallel?.communicator.abort(reason: reason)
    }
}

extension ErnieForward {
    /// Loads rank `parallel.layout.rank`'s shard of the model folder onto `backend` and allocates its KV cache.
    public static func load(
        directory: String, backend: B, format: LoadFormat = .auto, kvPages: Int, pageSize: Int, seed: UInt64 = 0,
        parallel: TensorParallelRank<B>
    ) throws -> ErnieForward<B> {
        let config = try ModelConfig(contentsOf: directory)
        try parallel.check(config: config)
        let loaded = try WeightLoader.load(
            directory: directory, config: config, format: format, backend: backend, seed: seed,
            layout: parallel.layout)
        return try ErnieForward(
            config: config, weights: loaded.weights, backend: backend, kvPages: kvPages, pageSize: pageSize,
            parallel: parallel)
    }
}
