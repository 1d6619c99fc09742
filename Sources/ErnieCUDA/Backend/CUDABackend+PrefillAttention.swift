import ErnieModel

/// Tensor-core flash attention for steps with prefill chunks (`Kernels/prefill_attention.cu`).
extension CUDABackend {
    static func prefillAttentionSupported(headDim: Int, group: Int) -> Bool { false }

    func prefillAttention(
        q: CUDATensor, out: CUDATensor, kv: UInt64, step: StepState, layout: KVCacheLayout, nq: Int, nkv: Int
    ) throws {
        throw CUDAError.invalidArgument("flash prefill attention is not available")
    }
}
