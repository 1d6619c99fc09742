import ArgumentParser
import ErnieCPU
import ErnieCUDA
import ErnieModel
import Foundation

/// Loads the model onto the chosen device and sizes its KV cache: the one place that knows the backends, so the CUDA
/// backend plugs in here.
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
    }

    struct Loaded {
        var executor: any ModelExecutor
        /// Bytes the KV cache occupies on the device.
        var kvBytes: Int
    }

    /// Default KV pool on the CPU when neither `--max-total-tokens` nor `--mem-fraction-static` is given.
    static let cpuDefaultKVTokens = 65_536
    /// Default share of physical memory the CPU KV pool may take.
    static let cpuDefaultMemFraction = 0.1

    /// Default `--mem-fraction-static` on a GPU (SGLang's fallback value): weights and the KV cache may take this
    /// share of device memory; the rest is left for activations, cuBLASLt and the CUDA context.
    static let cudaDefaultMemFraction = 0.88

    static func load(_ options: Options) throws -> sending Loaded {
        switch options.device {
        case .cpu:
            return try loadCPU(options)
        case .cuda:
            return try loadCUDA(options)
        case .auto:
            return cudaDeviceAvailable() ? try loadCUDA(options) : try loadCPU(options)
        }
    }

    /// Whether a CUDA driver with at least one device can be loaded (`--device auto` picks the GPU then).
    static func cudaDeviceAvailable() -> Bool {
        guard let driver = try? CUDADriver.shared(), let count = try? driver.deviceCount() else { return false }
        return count > 0
    }

    private static func loadCUDA(_ options: Options) throws -> sending Loaded {
        let backend = try CUDABackend(configuration: .init(maxTokensPerStep: options.maxTokensPerStep))
        let config = try ModelConfig(contentsOf: options.modelPath)
        let meter = LoadProgressMeter.standardError()
        let loaded = try WeightLoader.load(
            directory: options.modelPath, config: config, format: options.loadFormat, backend: backend,
            seed: options.seed, progress: meter.handler)
        meter.finish(device: backend.deviceDescription)
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
