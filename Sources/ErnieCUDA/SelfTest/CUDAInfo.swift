import Foundation

/// What `ernie cuda info` prints: every library found (or why not), its version, the device, the kernel sources.
public enum CUDAInfo {
    public static func report(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> (
        text: String, deviceFound: Bool
    ) {
        var lines: [String] = []
        var deviceFound = false
        do {
            let driver = try CUDADriver.shared()
            lines.append("driver     \(driver.libraryPath) (CUDA \(driver.versionString), \(driver.version))")
            let count = try driver.deviceCount()
            for ordinal in 0..<count {
                let device = try CUDADevice(ordinal: ordinal, driver: driver)
                let memory = try device.memoryInfo()
                lines.append(
                    "device \(ordinal)   \(device.summary), CC \(device.computeCapability.major)."
                        + "\(device.computeCapability.minor), "
                        + "L2 \(CUDAError.formatBytes(device.l2CacheBytes)), "
                        + "smem/block \(device.maxSharedMemoryPerBlockOptin) B, "
                        + "free \(CUDAError.formatBytes(memory.free))"
                )
                deviceFound = true
            }
        } catch {
            lines.append("driver     NOT AVAILABLE: \(error)")
        }
        do {
            let nvrtc = try NVRTC.shared()
            lines.append(
                "nvrtc      \(nvrtc.libraryPath) (\(nvrtc.versionString)); builtins "
                    + (nvrtc.builtinsPath ?? "not preloaded (found by the loader, or missing)")
            )
        } catch {
            lines.append("nvrtc      NOT AVAILABLE: \(error)")
        }
        do {
            let blas = try CuBLASLtAPI.shared()
            lines.append("cublasLt   \(blas.libraryPath) (version \(blas.version))")
        } catch {
            lines.append("cublasLt   NOT AVAILABLE: \(error)")
        }
        do {
            let nccl = try NCCLLibrary.shared()
            let nvls = ProcessInfo.processInfo.environment[NCCLLibrary.nvlsSetting.name] ?? "unset"
            lines.append(
                "nccl       \(nccl.libraryPath) (\(nccl.versionString)); \(NCCLLibrary.nvlsSetting.name)=\(nvls)")
        } catch {
            lines.append("nccl       NOT AVAILABLE (needed for --tp > 1 on GPUs): \(error)")
        }
        do {
            let sources = try KernelSources.load(environment: environment)
            lines.append(
                "kernels    \(sources.directory): \(sources.sources.map(\.name).joined(separator: ", ")) + "
                    + sources.headers.map(\.name).joined(separator: ", ")
            )
        } catch {
            lines.append("kernels    NOT FOUND: \(error)")
        }
        lines.append("cache      \(KernelCache.defaultDirectory(environment: environment) ?? "disabled")")
        return (lines.joined(separator: "\n"), deviceFound)
    }

    /// Compiles every kernel source for `architecture` (NVRTC only; no GPU needed) and reports each.
    public static func compileAll(architecture: String, useCache: Bool, log: (String) -> Void) throws -> Bool {
        let environment = ProcessInfo.processInfo.environment
        let sources = try KernelSources.load(environment: environment)
        let compiler = KernelCompiler(
            nvrtc: try NVRTC.shared(), architecture: architecture,
            cache: KernelCache(directory: KernelCache.defaultDirectory(environment: environment))
        )
        var ok = true
        log(
            "compiling \(sources.sources.count) sources from \(sources.directory) for \(architecture) "
                + "(\(compiler.options.joined(separator: " ")))")
        for source in sources.sources {
            do {
                let output = try compiler.cubin(for: source, headers: sources.headers, useCache: useCache)
                log(
                    "OK    \(source.name.padding(toLength: 16, withPad: " ", startingAt: 0)) "
                        + String(format: "%8d bytes  %6.2fs", output.cubin.count, output.seconds)
                        + (output.fromCache ? "  (cache)" : ""))
            } catch {
                ok = false
                log("FAIL  \(source.name): \(error)")
            }
        }
        return ok
    }
}
