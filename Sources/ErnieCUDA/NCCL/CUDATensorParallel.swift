import ErnieModel
import Foundation
import Synchronization

/// Tensor parallelism over the GPUs of this process: one rank thread per GPU (`TensorParallelExecutor`), each with its
/// own `CUDABackend` holding its shard of the model and an `NCCLCommunicator` of one NCCL group.
public enum CUDATensorParallel {
    /// How each rank sizes its KV cache (every rank gets the same number of pages, each holding its own KV heads).
    public enum KVCacheSize: Sendable, Equatable {
        /// Exactly this many pages.
        case pages(Int)
        /// As many pages as `--mem-fraction-static` leaves after the weights on the fullest device.
        case memoryFraction(Double)
    }

    public struct Options: Sendable {
        public var directory: String
        public var tpSize: Int
        public var epSize: Int
        /// CUDA device ordinal of each rank, in rank order (`tpSize` distinct ordinals).
        public var devices: [Int]
        public var format: LoadFormat
        public var pageSize: Int
        public var kvCache: KVCacheSize
        /// Seed of dummy weights.
        public var seed: UInt64
        /// Settings of every rank's backend (`deviceOrdinal` is replaced by the rank's device).
        public var backend: CUDABackend.Configuration
        /// Where the ranks publish their decode-graph counters after every step (reports); nil: nowhere.
        public var statistics: RankStatistics?

        public init(
            directory: String, tpSize: Int, epSize: Int = 1, devices: [Int]? = nil, format: LoadFormat = .auto,
            pageSize: Int, kvCache: KVCacheSize, seed: UInt64 = 0,
            backend: CUDABackend.Configuration = CUDABackend.Configuration(), statistics: RankStatistics? = nil
        ) {
            self.statistics = statistics
            self.directory = directory
            self.tpSize = tpSize
            self.epSize = epSize
            self.devices = devices ?? Array(0..<max(tpSize, 0))
            self.format = format
            self.pageSize = pageSize
            self.kvCache = kvCache
            self.seed = seed
            self.backend = backend
        }
    }

    /// Loads rank `r`'s shard onto device `options.devices[r]` for every rank, joins the ranks in one NCCL group,
    /// and sizes the KV caches alike. Returns when every rank is ready.
    ///
    /// - Throws: `ParallelError.unsupportedLayout` when the model's heads, widths or experts do not split this way;
    ///   `CUDAError.noDevice` when a device is missing or listed twice; `CUDAError.libraryNotFound` without
    ///   NCCL; `ParallelError.rankFailed` with the first rank's own error when a rank fails to start.
    public static func executor(_ options: Options) throws -> TensorParallelExecutor {
        let config = try ModelConfig(contentsOf: options.directory)
        try ParallelLayout.validate(config: config, tpSize: options.tpSize, epSize: options.epSize)
        try checkDevices(options.devices, count: options.tpSize)
        guard options.pageSize > 0 else { throw CUDAError.invalidArgument("the KV page size must be positive") }
        if case .pages(let pages) = options.kvCache, pages < 1 {
            throw CUDAError.invalidArgument("the KV cache needs at least one page")
        }
        let group = try NCCLGroup(worldSize: options.tpSize)
        return try TensorParallelExecutor(worldSize: options.tpSize) { setup in
            try makeRank(setup, options: options, config: config, group: group)
        }
    }

    /// Checks that `devices` names `count` distinct visible GPUs.
    public static func checkDevices(_ devices: [Int], count: Int) throws {
        guard devices.count == count else {
            throw CUDAError.invalidArgument("\(count) ranks need \(count) device ordinals, got \(devices)")
        }
        guard Set(devices).count == devices.count else {
            throw CUDAError.noDevice("each rank needs a GPU of its own; devices \(devices) repeat one")
        }
        let visible = try CUDADriver.shared().deviceCount()
        if let missing = devices.first(where: { $0 < 0 || $0 >= visible }) {
            throw CUDAError.noDevice(
                "GPU \(missing) is needed (devices \(devices.map(String.init).joined(separator: ", "))) but only "
                    + "\(visible) CUDA device(s) are visible")
        }
    }

    /// One rank, on its own thread: backend → (all ranks) → NCCL communicator → shard → KV pages agreed by all.
    private static func makeRank(
        _ setup: TensorParallelExecutor.RankSetup, options: Options, config: ModelConfig, group: NCCLGroup
    ) throws -> any ParallelRankExecutor {
        var configuration = options.backend
        configuration.deviceOrdinal = options.devices[setup.rank]
        let backend = try CUDABackend(configuration: configuration)
        // ncclCommInitRank blocks until every rank has called it: make sure every backend came up first.
        try setup.barrier()
        let communicator = try NCCLCommunicator(group: group, rank: setup.rank, backend: backend)
        do {
            let layout = try ParallelLayout(
                config: config, rank: setup.rank, tpSize: options.tpSize, epSize: options.epSize)
            let loaded = try WeightLoader.load(
                directory: options.directory, config: config, format: options.format, backend: backend,
                seed: options.seed, layout: layout)
            var pages: Int
            switch options.kvCache {
            case .pages(let count):
                pages = count
            case .memoryFraction(let fraction):
                let bytesPerPage = backend.kvBytesPerPage(
                    pageSize: options.pageSize, numLayers: config.numHiddenLayers,
                    numKVHeads: layout.kvHeadRange.count, headDim: config.headDim)
                let memory = try backend.memoryInfo()
                pages = try MemoryPlanner.kvPages(
                    freeBytes: memory.free, totalBytes: memory.total, memFractionStatic: fraction,
                    bytesPerPage: bytesPerPage
                ).pages
            }
            pages = try setup.agreeOnMinimum(pages)
            let forward = try ErnieForward(
                config: config, weights: loaded.weights, backend: backend, kvPages: pages,
                pageSize: options.pageSize,
                parallel: TensorParallelRank(layout: layout, communicator: communicator))
            guard let statistics = options.statistics else { return forward }
            return ReportingRank(forward, rank: setup.rank, statistics: statistics)
        } catch {
            // Peers may be inside an NCCL call or the page agreement: release them.
            communicator.abort(reason: "rank \(setup.rank) failed to start: \(error)")
            throw error
        }
    }
}

/// The decode-graph counters of every rank of a CUDA tensor-parallel group, as of each rank's last step.
public final class RankStatistics: Sendable {
    private let ranks: Mutex<[Int: GraphStatistics]> = Mutex([:])

    public init() {}

    /// Each rank's counters, in rank order.
    public var graphs: [GraphStatistics] {
        ranks.withLock { ranks in ranks.keys.sorted().compactMap { ranks[$0] } }
    }

    func publish(rank: Int, _ statistics: GraphStatistics) {
        ranks.withLock { $0[rank] = statistics }
    }
}

/// A rank's executor that publishes its backend's graph counters after every step.
private final class ReportingRank: ParallelRankExecutor {
    let forward: ErnieForward<CUDABackend>
    let rank: Int
    let statistics: RankStatistics

    init(_ forward: ErnieForward<CUDABackend>, rank: Int, statistics: RankStatistics) {
        self.forward = forward
        self.rank = rank
        self.statistics = statistics
    }

    var config: ModelConfig { forward.config }
    var kvLayout: KVCacheLayout { forward.kvLayout }
    var deviceDescription: String { forward.deviceDescription }

    func execute(_ batch: ForwardBatch, logits: [LogitsRequest]) throws -> [TokenResult] {
        defer { statistics.publish(rank: rank, forward.backend.graphStatistics) }
        return try forward.execute(batch, logits: logits)
    }

    func captureHiddenStates(prompt: [Int32]) throws -> [HiddenStatePoint: HiddenStateSnapshot] {
        defer { statistics.publish(rank: rank, forward.backend.graphStatistics) }
        return try forward.captureHiddenStates(prompt: prompt)
    }

    func abortGroup(reason: String) {
        forward.abortGroup(reason: reason)
    }
}
