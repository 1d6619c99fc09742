import ErnieModel

/// A weight range a latency-bound kernel asks into L2 for the GEMM after it (`prefetch_l2_grid_share` in
/// `Kernels/common.cuh`): 16-byte aligned, a multiple of 16 bytes.
struct L2Prefetch: Equatable {
    var address: UInt64
    var bytes: Int

    /// The whole of `weight`, or nil when it cannot be handed to the TMA unit (unaligned or empty).
    init?(_ weight: CUDAWeight) {
        let bytes = (weight.elementCount * weight.elementType.byteSize) & ~15
        guard bytes > 0, weight.address % 16 == 0 else { return nil }
        address = weight.address
        self.bytes = bytes
    }
}

/// The forward pass's hints (`Backend.prefetch`): the weight of the GEMM that follows the next op is prefetched into
/// L2 by the latency-bound kernels of that op — the tensor-core decode attention (the output projection, while the
/// attention and its merge run) and the grouped MoE combine (the next layer's qkv, while the combine and the next
/// add + RMSNorm run). Any other op leaves the hint pending, and the next `linear` drops it, so a hint never reaches
/// a kernel after the GEMM it was meant for. `ERNIE_CUDA_L2_PREFETCH=0` ignores the hints.
extension CUDABackend {
    public func prefetch(_ weight: CUDAWeight) throws {
        pendingPrefetch = perf.l2Prefetch ? L2Prefetch(weight) : nil
    }

    /// The pending hint, now taken by a kernel that prefetches it.
    func takePrefetch() -> L2Prefetch? {
        defer { pendingPrefetch = nil }
        return pendingPrefetch
    }

    /// A kernel's two trailing prefetch arguments (`const void *l2_next, u64 l2_bytes`; zero bytes: none).
    static func appendPrefetch(_ prefetch: L2Prefetch?, to args: inout KernelArguments) {
        args.pointer(prefetch?.address ?? 0)
        args.uint64(UInt64(prefetch?.bytes ?? 0))
    }
}
