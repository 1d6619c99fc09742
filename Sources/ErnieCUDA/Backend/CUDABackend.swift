import ErnieModel
import Foundation

/// The ERNIE-4.5 forward-pass operations on an NVIDIA GPU: bf16 weights and activations (router and correction bias
/// in fp32, fp32 accumulation everywhere), kernels compiled by NVRTC, GEMMs through cuBLASLt, a paged bf16 KV cache.
///
/// Used from one thread (the engine thread); the device's primary context is made current on the creating thread.
public final class CUDABackend: Backend {
    public typealias Tensor = CUDATensor
    public typealias Weight = CUDAWeight

    /// Sizes fixed at creation.
    public struct Configuration: Sendable {
        /// CUDA device ordinal.
        public var deviceOrdinal: Int
        /// Most tokens one step may hold (prefill chunk + decodes); bounds per-step metadata.
        public var maxTokensPerStep: Int
        /// Kernel cache directory; nil uses `KernelCache.defaultDirectory`.
        public var kernelCacheDirectory: String?
        /// Whether top-p measures mass within the top-k set (vLLM, transformers) instead of over the full
        /// distribution (SGLang, and ErnieModel's `Sampler`, the default).
        public var topPAfterTopK: Bool
        /// Fast-path switches (default: from the `ERNIE_CUDA_*` environment variables, see `PerfOptions`).
        public var perf: PerfOptions

        public init(
            deviceOrdinal: Int = 0, maxTokensPerStep: Int = 8192, kernelCacheDirectory: String? = nil,
            topPAfterTopK: Bool = false, perf: PerfOptions? = nil
        ) {
            self.deviceOrdinal = deviceOrdinal
            self.maxTokensPerStep = maxTokensPerStep
            self.kernelCacheDirectory = kernelCacheDirectory
            self.topPAfterTopK = topPAfterTopK
            self.perf = perf ?? PerfOptions.environment(ProcessInfo.processInfo.environment)
        }
    }

    public let configuration: Configuration
    public let device: CUDADevice
    let stream: CUDAStream
    let kernels: KernelLibrary
    let blas: CuBLASLt
    let pool: ActivationPool
    let uploads: UploadArena
    var kvCache: DeviceBuffer?
    public internal(set) var kvLayout: KVCacheLayout?
    var step: StepState?
    var stepBuffers: StepBuffers
    var ropeTables: [RopeKey: DeviceBuffer] = [:]
    /// Fast-path switches fixed at creation.
    public let perf: PerfOptions
    /// Activations of graph-eligible decode steps (fixed addresses per op sequence).
    let arena: ActivationArena
    /// Where decode graphs are captured (never executes work).
    let captureStream: CUDAStream
    let launchState = LaunchState()
    /// Advanced when captured graphs must be dropped (KV cache reallocated).
    var graphEpoch = 0
    /// Per-launch timing while a profile is taken (`startProfile`).
    var profiler: OpProfiler?
    /// Completion ticket of the grouped MoE router (one word, zero between launches).
    let moeTicket: DeviceBuffer
    /// A host-grouped MoE step's top-k ids on their way to the host (grown on demand), and the event after their copy.
    var routingHost: PinnedHostBuffer?
    let routingCopied: CUDAEvent
    /// Each FP32 router as three stacked bf16 parts (`ernie_moe_router_split`), by the router's address, made on a
    /// large step's first use of it.
    var routerSplits: [UInt64: DeviceBuffer] = [:]
    /// Side streams of the host-grouped MoE's per-expert GEMMs, made on first use (`expertLanes()`).
    var expertStreams: ExpertStreams?

    public init(configuration: Configuration = Configuration()) throws {
        guard configuration.maxTokensPerStep > 0 else {
            throw CUDAError.invalidArgument("maxTokensPerStep must be positive")
        }
        self.configuration = configuration
        let environment = ProcessInfo.processInfo.environment
        device = try CUDADevice(ordinal: configuration.deviceOrdinal)
        stream = try CUDAStream(device: device)
        captureStream = try CUDAStream(device: device)
        arena = ActivationArena(device: device)
        let sources = try KernelSources.load(environment: environment)
        let cache = KernelCache(
            directory: configuration.kernelCacheDirectory ?? KernelCache.defaultDirectory(environment: environment)
        )
        let compiler = KernelCompiler(nvrtc: try NVRTC.shared(), architecture: device.architecture, cache: cache)
        kernels = try KernelLibrary(device: device, sources: sources, compiler: compiler)
        perf = Self.supported(configuration.perf, by: kernels)
        blas = try CuBLASLt(device: device)
        pool = ActivationPool(device: device)
        uploads = try UploadArena(device: device, stream: stream)
        stepBuffers = try StepBuffers(device: device, maxTokens: configuration.maxTokensPerStep)
        // One ticket for the router's grouping step plus one per 8-token column (GroupedMoEPlan.maxPairs tokens).
        let ticketBytes = 4 * (1 + GroupedMoEPlan.maxPairs / 8)
        moeTicket = try DeviceBuffer(device: device, byteCount: ticketBytes, label: "MoE router tickets")
        routingCopied = try CUDAEvent(device: device)
        try stream.fillZero(moeTicket.address, byteCount: ticketBytes)
        try stream.synchronize()
    }

    /// `options` with the fast paths whose kernels this device lacks turned off: the wgmma kernels are compiled only
    /// for sm_90a (and the emulator), so elsewhere the mma.sync ones run. Decided once here, not by a lookup at
    /// every launch (a missing kernel is searched for in every module).
    static func supported(_ options: PerfOptions, by kernels: KernelLibrary) -> PerfOptions {
        var options = options
        func has(_ name: String) -> Bool { (try? kernels.function(name)) != nil }
        if options.moeWarpgroupMinTokens > 0, !has("ernie_moe_gate_up_wg") { options.moeWarpgroupMinTokens = 0 }
        if options.flashPrefillWarpgroups > 0,
            !has(wgmmaPrefillAttention(warpgroups: options.flashPrefillWarpgroups).name)
        {
            options.flashPrefillWarpgroups = 0
        }
        return options
    }

    deinit {
        // Buffers, modules and the cuBLASLt handle are released after this; they need the context current.
        try? device.makeCurrent()
    }

    public var deviceDescription: String { device.summary }
    /// cuBLASLt plans cached and the host time their heuristic queries took ("gemm plans: …").
    public var gemmPlanSummary: String { blas.planSummary }
    /// `moe` honours `MoEShape.expertRange` (the grouped and host-grouped paths; `--ep-size`).
    public var supportsExpertParallelism: Bool { true }

    /// Compile/load reports of every kernel source.
    public var kernelReports: [KernelCompiler.Output] { kernels.reports }

    // MARK: Helpers shared by the op files

    /// A pool tensor of `[rows, columns]`.
    func makeTensor(
        rows: Int, columns: Int, _ type: CUDAElementType = .bfloat16, _ label: @autoclosure () -> String
    )
        throws -> CUDATensor
    {
        try makeTensor(rows: rows, launchRows: rows, columns: columns, type, label())
    }

    /// A tensor of `rows` logical rows whose kernels process `launchRows ≥ rows` rows (the decode bucket). Inside an
    /// op of a graph-eligible step's body it comes from the arena, else from the pool.
    func makeTensor(
        rows: Int, launchRows: Int, columns: Int, _ type: CUDAElementType = .bfloat16,
        _ label: @autoclosure () -> String
    ) throws -> CUDATensor {
        guard rows >= 0, columns >= 0, launchRows >= rows else {
            throw CUDAError.invalidArgument("invalid tensor shape for \(label())")
        }
        let bytes = max(launchRows, 1) * max(columns, 1) * type.byteSize
        if launchState.inBodyOp, step?.usesArena == true, let block = arena.allocate(bytes) {
            return CUDATensor(storage: block, rows: rows, columns: columns, elementType: type, launchRows: launchRows)
        }
        let buffer = try pool.buffer(rows: max(launchRows, 1), rowBytes: max(columns, 1) * type.byteSize, label: label())
        return CUDATensor(storage: buffer, rows: rows, columns: columns, elementType: type, launchRows: launchRows)
    }

    /// Launches kernel `name` (queued, recorded or replayed according to the step's body mode).
    ///
    /// - Parameters:
    ///   - cost: bytes and FLOPs of the launch for profiles.
    ///   - programmatic: the kernel calls `pdl_wait()` before touching memory, so it may be launched with
    ///     programmatic dependent launch (when `PerfOptions.programmaticDependentLaunch` is on).
    func launch(
        _ name: String, _ configuration: LaunchConfiguration, cost: OpCost = .zero, label: String? = nil,
        programmatic: Bool = false, _ build: (inout KernelArguments) throws -> Void
    )
        throws
    {
        var arguments = KernelArguments()
        try build(&arguments)
        let function = try kernels.function(name)
        let pdl = programmatic && perf.programmaticDependentLaunch
        try function.allowDynamicSharedMemory(configuration.sharedMemoryBytes)
        var signature: [UInt64] = [
            function.handleBits, UInt64(configuration.grid.x), UInt64(configuration.grid.y),
            UInt64(configuration.grid.z), UInt64(configuration.block.x), UInt64(configuration.block.y),
            UInt64(configuration.block.z), UInt64(configuration.sharedMemoryBytes), pdl ? 1 : 0,
        ]
        signature += arguments.slots
        try submit(
            QueuedLaunch(signature: signature, label: label ?? name, cost: cost) { stream, capturing in
                try function.launch(configuration, on: stream, arguments, programmatic: pdl, mayWait: !capturing)
            })
    }

    /// `Y[rows, outFeatures] = X · Wᵀ` through cuBLASLt, queued like a kernel launch.
    func gemm(
        x: UInt64, weight: UInt64, output: UInt64, rows: Int, outFeatures: Int, inFeatures: Int,
        outputType: GemmOutput = .bfloat16, batch: Int = 1, tune: Bool = false, label: String
    ) throws {
        guard rows > 0, outFeatures > 0, batch > 0 else { return }
        let blas = self.blas
        let share = perf.gemmSharedAlgorithms
        let signature: [UInt64] = [
            0x6765_6D6D, x, weight, output, UInt64(rows), UInt64(outFeatures), UInt64(inFeatures),
            outputType == .bfloat16 ? 0 : 1, UInt64(batch),
        ]
        var cost = OpCost.gemm(m: rows, n: outFeatures, k: inFeatures, outputBytes: outputType == .bfloat16 ? 2 : 4)
        cost.bytes *= Double(batch)
        cost.flops *= Double(batch)
        try submit(
            QueuedLaunch(signature: signature, label: label, cost: cost) { stream, capturing in
                try blas.gemm(
                    x: x, weight: weight, output: output, rows: rows, outFeatures: outFeatures, inFeatures: inFeatures,
                    outputType: outputType, batch: batch, tune: tune, shareAlgorithms: share, capturing: capturing,
                    stream: stream)
            })
    }

    /// Waits for the stream, then recycles the upload arena.
    func synchronizeStream() throws {
        try finishBody()
        try stream.synchronize()
        uploads.recycle()
    }

    /// Waits for all queued work.
    public func synchronize() throws {
        try device.makeCurrent()
        try synchronizeStream()
    }

    /// Free and total device memory.
    public func memoryInfo() throws -> (free: Int, total: Int) { try device.memoryInfo() }

    /// Bytes held by the activation pool.
    public var activationBytes: Int { pool.reservedBytes + arena.reservedBytes }

    func requireBF16(_ tensor: CUDATensor, _ what: String) throws {
        guard tensor.elementType == .bfloat16 else {
            throw CUDAError.invalidArgument("\(what) must be bf16, got \(tensor.elementType)")
        }
    }

    // MARK: Inspection

    public func toHost(_ x: CUDATensor) throws -> [Float] {
        try device.makeCurrent()
        try finishBody()
        let count = x.rows * x.columns
        switch x.elementType {
        case .bfloat16:
            let bits = try stream.download(UInt16.self, count: count, from: x.address)
            uploads.recycle()
            return bits.map { HostConversion.float(bf16: $0) }
        case .float32:
            let values = try stream.download(Float.self, count: count, from: x.address)
            uploads.recycle()
            return values
        case .int32:
            let values = try stream.download(Int32.self, count: count, from: x.address)
            uploads.recycle()
            return values.map { Float($0) }
        }
    }

    /// Copies a weight to the host as Float (tests).
    public func weightToHost(_ w: CUDAWeight) throws -> [Float] {
        try device.makeCurrent()
        try finishBody()
        switch w.elementType {
        case .bfloat16:
            return try stream.download(UInt16.self, count: w.elementCount, from: w.address).map {
                HostConversion.float(bf16: $0)
            }
        case .float32:
            return try stream.download(Float.self, count: w.elementCount, from: w.address)
        case .int32:
            return try stream.download(Int32.self, count: w.elementCount, from: w.address).map { Float($0) }
        }
    }

    /// Uploads host floats as a bf16 activation tensor (tests and the self-test).
    public func tensor(rows: Int, columns: Int, values: [Float]) throws -> CUDATensor {
        guard values.count == rows * columns else {
            throw CUDAError.invalidArgument("tensor(rows: \(rows), columns: \(columns)) given \(values.count) values")
        }
        let t = try makeTensor(rows: rows, columns: columns, .bfloat16, "host tensor")
        try stream.upload(values.map { HostConversion.bf16Bits($0) }, to: t.address)
        try synchronizeStream()
        return t
    }
}
