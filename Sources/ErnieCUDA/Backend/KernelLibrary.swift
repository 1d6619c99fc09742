import Foundation

/// Every kernel module compiled (or loaded from the cache) and loaded on one device; kernels are looked up by name.
final class KernelLibrary {
    let device: CUDADevice
    let compiler: KernelCompiler
    private(set) var modules: [CUDAModule] = []
    private var functions: [String: CUDAFunction] = [:]
    /// Per-source compile reports (for `ernie cuda compile` / `info`).
    private(set) var reports: [KernelCompiler.Output] = []

    init(device: CUDADevice, sources: KernelSources, compiler: KernelCompiler) throws {
        self.device = device
        self.compiler = compiler
        for source in sources.sources {
            let output = try compiler.cubin(for: source, headers: sources.headers)
            let module: CUDAModule
            do {
                module = try CUDAModule(device: device, image: output.cubin, name: source.name)
            } catch  where output.fromCache {
                // A stale or damaged cache file: compile afresh.
                let fresh = try compiler.cubin(for: source, headers: sources.headers, useCache: false)
                module = try CUDAModule(device: device, image: fresh.cubin, name: source.name)
            }
            modules.append(module)
            reports.append(output)
        }
    }

    /// The kernel named `name` from whichever module defines it.
    func function(_ name: String) throws -> CUDAFunction {
        if let function = functions[name] { return function }
        for module in modules {
            if let function = try? module.function(name) {
                functions[name] = function
                return function
            }
        }
        throw CUDAError.missingResource(
            "kernel \(name) not found in any module (\(modules.map(\.name).joined(separator: ", ")))"
        )
    }
}
