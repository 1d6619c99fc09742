import ErnieModel

/// Split-KV decode attention (`Kernels/decode_attention.cu`) whose launch depends only on the step's launch rows.
extension CUDABackend {
    /// Query heads per block the decode kernels are built for.
    static let decodeGroupChunks = [2, 4, 5, 8]

    /// Dynamic shared memory of the tensor-core decode kernel: 4 warps × 2 stages × (K, V) × 16 keys × (128 + 8) bf16.
    static let decodeTensorCoreSharedBytes = 4 * 2 * 2 * 16 * (128 + 8) * 2

    /// The decode kernel for `headDim` (32, 64, 128 or 256) and GQA group size: with `tensorCores`, head_dim 128 and
    /// groups of at most 16 heads, the tensor-core kernel (all of a KV head's query heads in one block); otherwise
    /// the chunk of query heads per block that needs the fewest blocks, then wastes the fewest head slots.
    static func decodeAttentionKernel(headDim: Int, group: Int, tensorCores: Bool = false)
        -> (name: String, headsPerBlock: Int, sharedBytes: Int)?
    {
        if tensorCores, headDim == 128, group >= 1, group <= 16 {
            return ("ernie_decode_attention_tc_hd128", group, decodeTensorCoreSharedBytes)
        }
        guard [32, 64, 128, 256].contains(headDim), group > 0 else { return nil }
        let lanes = headDim / 8
        let best = decodeGroupChunks.min { a, b in
            let ca = (group + a - 1) / a
            let cb = (group + b - 1) / b
            return ca != cb ? ca < cb : ca * a < cb * b
        }!
        return ("ernie_decode_attention_l\(lanes)_g\(best)", best, 0)
    }

    /// The tensor-core decode kernel with RoPE and the KV write inside (the default for decode steps on tensor cores;
    /// `ERNIE_CUDA_DECODE_ROPE_FUSED=0` turns it off): it reads the fused qkv projection instead of the rotated q. Nil
    /// for the other decode kernels.
    static func fusedRopeDecodeKernel(_ kernel: (name: String, headsPerBlock: Int, sharedBytes: Int))
        -> (name: String, headsPerBlock: Int, sharedBytes: Int)?
    {
        kernel.name == "ernie_decode_attention_tc_hd128"
            ? ("ernie_decode_attention_tc_rope_hd128", kernel.headsPerBlock, kernel.sharedBytes) : nil
    }

    /// Splits per (token, KV head) so that about two blocks per multiprocessor run, at most 64 (the merge kernel's
    /// limit).
    static func decodeSplits(rows: Int, blocksPerRow: Int, multiprocessors: Int) -> Int {
        let base = max(1, rows * blocksPerRow)
        return min(64, max(1, (2 * max(multiprocessors, 1) + base - 1) / base))
    }

    /// `rope`: the fused kernel's extra arguments (then `q` is the qkv projection, RoPE and the KV write happen inside).
    func decodeAttention(
        q: CUDATensor, out: CUDATensor, kv: UInt64, step: StepState, layout: KVCacheLayout, nq: Int, nkv: Int,
        kernel: (name: String, headsPerBlock: Int, sharedBytes: Int), rope: (slots: UInt64, invFreq: UInt64)? = nil
    ) throws {
        let rows = step.launchRows
        let hd = layout.headDim
        let group = nq / nkv
        let chunks = (group + kernel.headsPerBlock - 1) / kernel.headsPerBlock
        let splits = Self.decodeSplits(
            rows: rows, blocksPerRow: nkv * chunks, multiprocessors: device.multiprocessorCount)
        var partO: CUDATensor?
        var partML: CUDATensor?
        if splits > 1 {
            partO = try makeTensor(
                rows: splits * rows * nq, launchRows: splits * rows * nq, columns: hd, .float32, "decode partial O")
            partML = try makeTensor(
                rows: splits * rows * nq, launchRows: splits * rows * nq, columns: 2, .float32, "decode partial m/l")
        }
        let scale = 1 / Float(hd).squareRoot()
        try launch(
            kernel.name,
            LaunchConfiguration(
                grid: (rows, nkv * chunks, splits), block: (128, 1, 1), sharedMemoryBytes: kernel.sharedBytes),
            cost: attentionCost(step: step, nq: nq, nkv: nkv, hd: hd), label: "decode attention",
            programmatic: true
        ) { args in
            args.pointer(q.address)
            args.pointer(kv)
            args.pointer(step.tokenSequence)
            args.pointer(step.positions)
            args.pointer(step.sequencePageStart)
            args.pointer(step.pages)
            args.pointer(step.counts)
            args.pointer(out.address)
            args.pointer(partO?.address ?? 0)
            args.pointer(partML?.address ?? 0)
            try args.int(rows)
            try args.int(nq)
            try args.int(nkv)
            try args.int(layout.pageSize)
            args.uint64(UInt64(kvPageStride(layout)))
            args.float(scale)
            try args.int(perf.decodeMinimumChunk)
            if let rope {
                args.pointer(rope.slots)
                args.pointer(rope.invFreq)
            }
        }
        if let partO, let partML {
            // Only the splits that hold keys (the kernel derives them from each row's KV length).
            try launch(
                "ernie_decode_attention_merge",
                LaunchConfiguration(grid: (rows, nq, 1), block: (min(256, max(32, (hd + 31) / 32 * 32)), 1, 1)),
                cost: OpCost(bytes: Double(splits * rows * nq * (hd + 2) * 4 + rows * nq * hd * 2)),
                label: "attention merge", programmatic: true
            ) { args in
                args.pointer(partO.address)
                args.pointer(partML.address)
                args.pointer(out.address)
                args.pointer(step.positions)
                args.pointer(step.counts)
                try args.int(rows)
                try args.int(nq)
                try args.int(hd)
                try args.int(splits)
                try args.int(perf.decodeMinimumChunk)
            }
        }
    }
}
