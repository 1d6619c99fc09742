/// How many KV pages fit on the device (SGLang's `--mem-fraction-static` semantics).
public enum MemoryPlanner {
    /// The result of planning the KV cache.
    public struct Plan: Sendable, Equatable {
        public var pages: Int
        public var bytesPerPage: Int
        public var kvBytes: Int { pages * bytesPerPage }
    }

    /// Weights, the KV cache and other static buffers may use `memFractionStatic × total`; what is already in use
    /// (`total − free`, measured after the weights are loaded) counts against it, and the KV cache gets the rest. The
    /// remaining `(1 − memFractionStatic) × total` is left for activations, cuBLASLt and the CUDA context.
    public static func kvPages(
        freeBytes: Int, totalBytes: Int, memFractionStatic: Double, bytesPerPage: Int
    ) throws -> Plan {
        guard memFractionStatic > 0, memFractionStatic <= 1 else {
            throw CUDAError.invalidArgument("--mem-fraction-static must be in (0, 1], got \(memFractionStatic)")
        }
        guard bytesPerPage > 0, totalBytes > 0, freeBytes >= 0, freeBytes <= totalBytes else {
            throw CUDAError.invalidArgument(
                "bad memory figures: free \(freeBytes), total \(totalBytes), page \(bytesPerPage) bytes"
            )
        }
        let used = totalBytes - freeBytes
        let budget = Int(Double(totalBytes) * memFractionStatic) - used
        let pages = budget > 0 ? budget / bytesPerPage : 0
        guard pages > 0 else {
            throw CUDAError.outOfMemory(
                what: "the KV cache: --mem-fraction-static \(memFractionStatic) leaves "
                    + "\(CUDAError.formatBytes(max(budget, 0))) after \(CUDAError.formatBytes(used)) in use; raise it",
                bytes: bytesPerPage, freeBytes: freeBytes, totalBytes: totalBytes
            )
        }
        return Plan(pages: pages, bytesPerPage: bytesPerPage)
    }
}
