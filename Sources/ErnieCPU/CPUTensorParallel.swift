import ErnieModel

/// Tensor parallelism on the CPU backend: `tpSize` rank threads in this process, each with its own `CPUBackend`
/// holding its shard, talking through a `CPUCommunicatorGroup`. The same code path as several GPUs, for tests and
/// for development without a GPU.
public enum CPUTensorParallel {
    /// Loads the model folder split over `tpSize` ranks (experts over `epSize` groups), each rank with a KV cache
    /// of `kvPages` pages of `pageSize` tokens for its own KV heads.
    public static func executor(
        directory: String, tpSize: Int, epSize: Int = 1, format: LoadFormat = .auto, kvPages: Int, pageSize: Int,
        seed: UInt64 = 0, memoryLimitPerRank: Int? = nil
    ) throws -> TensorParallelExecutor {
        let config = try ModelConfig(contentsOf: directory)
        try ParallelLayout.validate(config: config, tpSize: tpSize, epSize: epSize)
        let group = CPUCommunicatorGroup(worldSize: tpSize)
        return try TensorParallelExecutor(worldSize: tpSize) { setup in
            let layout = try ParallelLayout(config: config, rank: setup.rank, tpSize: tpSize, epSize: epSize)
            let rank = TensorParallelRank<CPUBackend>(
                layout: layout, communicator: try group.communicator(rank: setup.rank))
            return try ErnieForward.load(
                directory: directory, backend: CPUBackend(memoryLimit: memoryLimitPerRank), format: format,
                kvPages: kvPages, pageSize: pageSize, seed: seed, parallel: rank)
        }
    }
}
