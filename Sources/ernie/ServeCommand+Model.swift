import ArgumentParser
import ErnieCPU
import ErnieCUDA
import ErnieModel
import Foundation

/// Loads the model onto the chosen device and sizes its KV cache: the one place that knows the backends, so the CUDA
/// backend plugs in here.
///
/// Parallelism: `--tp N` splits each replica over N ranks (CPU: N rank threads with a `CPUCommunicator` group; CUDA:
/// one GPU and one thread per rank, an `NCCLCommunicator` group); `--ep-size` partitions the routed experts over
/// groups of those ranks; `--dp N` loads N independent replicas, replica `i` on GPUs `i·tp ..< (i+1)·tp`.
enum ModelFactory {
    struct Options {
        var modelPath: String
        var device: DeviceChoice
        var loadFormat: LoadFormat
        var pageSize: Int
        /// `--max-total-tokens`; nil sizes the pool from `memFractionStatic`.
        var maxTotalTokens: Int?
        /// `--mem-fraction-static`; nil: the device's default.
        var memFractionStatic: Double?
        /// Seed of dummy weights.
        var seed: UInt64
        /// Most tokens one step can hold (a prefill chunk plus every running decode); sizes per-step GPU buffers.
        var maxTokensPerStep: Int = 8192
        /// `--tp`: ranks per replica.
        var tpSize = 1
        /// `--ep-size`: expert groups among a replica's ranks.
        var epSize = 1
        /// `--dp`: replicas.
        var dpSize = 1
    }

    struct Loaded {
        var executor: any ModelExecutor
        /// Bytes the KV cache occupies on the device (all ranks of the replica).
        var kvBytes: Int
    }

    /// The backend `--device` resolves to.
    enum ResolvedDevice: String {
        case cpu, cuda
    }

    /// Default KV pool on the CPU when neither `--max-total-tokens` nor `--mem-fraction-static` is given.
    static let cpuDefaultKVTokens = 65_536
    /// Default share of physical memory the CPU KV pool may take.
    static let cpuDefaultMemFraction = 0.1

    /// Default `--mem-fraction-static` on a GPU (SGLang's fallback value): weights and the KV cache may take this
    /// share of device memory; the rest is left for activations, cuBLASLt and the CUDA context.
    static let cudaDefaultMemFraction = 0.88

    /// `--device auto` is the GPU when a CUDA driver with at least one device loads, else the CPU.
    static func resolve(_ device: DeviceChoice) -> ResolvedDevice {
        switch device {
        case .cpu: .cpu
        case .cuda: .cuda
        case .auto: cudaDeviceAvailable() ? .cuda : .cpu
        }
    }

    /// Checks `--tp`, `--ep-size` and `--dp` against the model and the machine before anything is loaded.
    static func checkParallelism(_ options: Options, config: ModelConfig, device: ResolvedDevice) throws {
        for (name, value) in [("--tp", options.tpSize), ("--ep-size", options.epSize), ("--dp", options.dpSize)]
        where value < 1 {
            throw ValidationError("\(name) must be at least 1.")
        }
        do {
            try ParallelLayout.validate(config: config, tpSize: options.tpSize, epSize: options.epSize)
        } catch {
            throw ValidationError("--tp \(options.tpSize) --ep-size \(options.epSize): \(error)")
        }
        guard device == .cuda else { return }
        let needed = options.tpSize * options.dpSize
        let visible = (try? CUDADriver.shared().deviceCount()) ?? 0
        if needed > visible {
            throw ValidationError(
                "--tp \(options.tpSize) × --dp \(options.dpSize) needs \(needed) GPUs (one per rank) but "
                    + "\(visible) CUDA device(s) are visible.")
        }
    }

    /// Loads replica `replica` (0 ..< `dpSize`).
    static func load(_ options: Options, replica: Int = 0) throws -> sending Loaded {
        switch resolve(options.device) {
        case .cpu:
            return options.tpSize > 1 ? try loadCPUParallel(options) : try loadCPU(options)
        case .cuda:
            let first = replica * options.tpSize
            return options.tpSize > 1
                ? try loadCUDAParallel(options, devices: Array(first..<(first + options.tpSize)))
                : try loadCUDA(options, device: first)
        }
    }

    /// Whether a CUDA driver with at least one device can be loaded (`--device auto` picks the GPU then).
    static func cudaDeviceAvailable() -> Bool {
        guard let driver = try? CUDADriver.shared(), let count = try? driver.deviceCount() else { return false }
        return count > 0
    }

    private static func loadCUDA(_ options: Options, device: Int) throws -> sending Loaded {
        let backend = try CUDABackend(
            configuration: .init(deviceOrdinal: device, maxTokensPerStep: options.maxTokensPerStep))
        let config = try ModelConfig(contentsOf: options.modelPath)
        let meter = LoadProgressMeter.standardError()
        let loaded = try WeightLoader.load(
            directory: options.modelPath, config: config, format: options.loadFormat, backend: backend,
            seed: options.seed, progress: meter.handler)
        meter.finish(device: backend.deviceDescription + (options.dpSize > 1 ? " (GPU \(device))" : ""))
        let pageBytes = backend.kvBytesPerPage(
            pageSize: options.pageSize, numLayers: config.numHiddenLayers, numKVHeads: config.numKeyValueHeads,
            headDim: config.headDim)
        let pages: Int
        if let tokens = options.maxTotalTokens {
            pages = (tokens + options.pageSize - 1) / options.pageSize
        } else {
            let memory = try backend.device.memoryInfo()
            pages = try MemoryPlanner.kvPages(
                freeBytes: memory.free, totalBytes: memory.total,
                memFractionStatic: options.memFractionStatic ?? cudaDefaultMemFraction, bytesPerPage: pageBytes
            ).pages
        }
        let executor = try ErnieForward(
            config: config, weights: loaded.weights, backend: backend, kvPages: pages, pageSize: options.pageSize)
        return Loaded(executor: executor, kvBytes: pages * pageBytes)
    }

    private static func loadCUDAParallel(_ options: Options, devices: [Int]) throws -> sending Loaded {
        let started = Date()
        let kvCache: CUDATensorParallel.KVCacheSize =
            if let tokens = options.maxTotalTokens {
                .pages((tokens + options.pageSize - 1) / options.pageSize)
            } else {
                .memoryFraction(options.memFractionStatic ?? cudaDefaultMemFraction)
            }
        let executor = try CUDATensorParallel.executor(
            CUDATensorParallel.Options(
                directory: options.modelPath, tpSize: options.tpSize, epSize: options.epSize, devices: devices,
                format: options.loadFormat, pageSize: options.pageSize, kvCache: kvCache, seed: options.seed,
                backend: .init(maxTokensPerStep: options.maxTokensPerStep)))
        let experts = options.epSize > 1 ? ", routed experts split over \(options.epSize) groups of ranks" : ""
        report(executor.deviceDescription + " (GPUs \(devices.map(String.init).joined(separator: ", ")))\(experts)",
               since: started)
        return Loaded(executor: executor, kvBytes: kvBytes(executor.rankLayouts, bytesPerElement: 2))
    }

    private static func loadCPU(_ options: Options) throws -> sending Loaded {
        let backend = CPUBackend()
        let config = try ModelConfig(contentsOf: options.modelPath)
        let pageBytes = backend.kvBytesPerPage(
            pageSize: options.pageSize, numLayers: config.numHiddenLayers, numKVHeads: config.numKeyValueHeads,
            headDim: config.headDim)
        let pages = try kvPages(
            options, pageBytes: pageBytes, deviceBytes: Int(ProcessInfo.processInfo.physicalMemory),
            defaultFraction: cpuDefaultMemFraction, defaultTokens: cpuDefaultKVTokens)
        let meter = LoadProgressMeter.standardError()
        let executor = try ErnieForward.load(
            directory: options.modelPath, backend: backend, format: options.loadFormat, kvPages: pages,
            pageSize: options.pageSize, seed: options.seed, progress: meter.handler)
        meter.finish(device: backend.deviceDescription)
        return Loaded(executor: executor, kvBytes: pages * pageBytes)
    }

    /// The CPU stand-in for several devices: `tpSize` rank threads, each a `CPUBackend` with its shard. The KV pool
    /// is sized as for one device (the ranks' KV heads add up to the model's).
    private static func loadCPUParallel(_ options: Options) throws -> sending Loaded {
        let config = try ModelConfig(contentsOf: options.modelPath)
        let pageBytes = CPUBackend().kvBytesPerPage(
            pageSize: options.pageSize, numLayers: config.numHiddenLayers, numKVHeads: config.numKeyValueHeads,
            headDim: config.headDim)
        let pages = try kvPages(
            options, pageBytes: pageBytes, deviceBytes: Int(ProcessInfo.processInfo.physicalMemory),
            defaultFraction: cpuDefaultMemFraction, defaultTokens: cpuDefaultKVTokens)
        let executor = try CPUTensorParallel.executor(
            directory: options.modelPath, tpSize: options.tpSize, epSize: options.epSize, format: options.loadFormat,
            kvPages: pages, pageSize: options.pageSize, seed: options.seed)
        return Loaded(executor: executor, kvBytes: kvBytes(executor.rankLayouts, bytesPerElement: 4))
    }

    /// Bytes of the KV caches of every rank.
    static func kvBytes(_ layouts: [KVCacheLayout], bytesPerElement: Int) -> Int {
        layouts.reduce(0) { total, layout in
            total + layout.numPages * layout.pageSize * layout.numLayers * 2 * layout.numKVHeads * layout.headDim
                * bytesPerElement
        }
    }

    private static func report(_ description: String, since started: Date) {
        let seconds = Date().timeIntervalSince(started)
        FileHandle.standardError.write(Data(
            "ernie: weights on \(description) in \(String(format: "%.1f", seconds)) s\n".utf8))
    }

    /// Pages for `--max-total-tokens`, or for the memory share (`--mem-fraction-static` of `deviceBytes`, capped at
    /// `defaultTokens` when the fraction was not given).
    static func kvPages(
        _ options: Options, pageBytes: Int, deviceBytes: Int, defaultFraction: Double, defaultTokens: Int
    ) throws -> Int {
        if let tokens = options.maxTotalTokens {
            return (tokens + options.pageSize - 1) / options.pageSize
        }
        let fraction = options.memFractionStatic ?? defaultFraction
        var pages = Int(Double(deviceBytes) * fraction) / max(pageBytes, 1)
        if options.memFractionStatic == nil {
            pages = min(pages, (defaultTokens + options.pageSize - 1) / options.pageSize)
        }
        guard pages >= 1 else {
            throw ValidationError(
                "The KV cache does not fit: one page needs \(pageBytes) bytes; raise --mem-fraction-static or set "
                    + "--max-total-tokens.")
        }
        return pages
    }
}
