import ErnieModel

/// Tensor-core flash attention for steps with prefill chunks (`Kernels/prefill_attention.cu`).
extension CUDABackend {
    /// Packed query rows per block and keys per tile of the kernel.
    static let prefillRowsPerBlock = 64
    static let prefillKeysPerTile = 64

    static func prefillAttentionSupported(headDim: Int, group: Int) -> Bool {
        (headDim == 64 || headDim == 128) && group >= 1
    }

    /// Work items (sequence, first packed row): each sequence's `tokenCount × group` (token, head) rows in blocks of
    /// `prefillRowsPerBlock`.
    static func prefillWorkItems(_ batch: ForwardBatch, group: Int) -> (sequences: [Int32], rows: [Int32]) {
        var sequences: [Int32] = []
        var rows: [Int32] = []
        for (index, s) in batch.sequences.enumerated() {
            var r = 0
            while r < s.tokenCount * group {
                sequences.append(Int32(index))
                rows.append(Int32(r))
                r += prefillRowsPerBlock
            }
        }
        return (sequences, rows)
    }

    func prefillAttention(
        q: CUDATensor, out: CUDATensor, kv: UInt64, step: StepState, layout: KVCacheLayout, nq: Int, nkv: Int
    ) throws {
        let hd = layout.headDim
        let group = nq / nkv
        let items = Self.prefillWorkItems(step.batch, group: group)
        guard !items.sequences.isEmpty else { return }
        var info: [Int32] = []
        for s in step.batch.sequences {
            info += [Int32(s.tokenOffset), Int32(s.tokenCount), Int32(s.startPosition)]
        }
        let infoAddress = try uploads.upload(info)
        let itemSequences = try uploads.upload(items.sequences)
        let itemRows = try uploads.upload(items.rows)
        let shared = 2 * 2 * Self.prefillKeysPerTile * (hd + 8) * 2
        let scale = 1 / Float(hd).squareRoot()
        try launch(
            "ernie_prefill_attention_hd\(hd)",
            LaunchConfiguration(grid: (items.sequences.count, nkv, 1), block: (128, 1, 1), sharedMemoryBytes: shared),
            cost: attentionCost(step: step, nq: nq, nkv: nkv, hd: hd), label: "prefill attention (flash)",
            programmatic: true
        ) { args in
            args.pointer(q.address)
            args.pointer(kv)
            args.pointer(infoAddress)
            args.pointer(step.sequencePageStart)
            args.pointer(step.pages)
            args.pointer(itemSequences)
            args.pointer(itemRows)
            args.pointer(out.address)
            try args.int(nq)
            try args.int(nkv)
            try args.int(layout.pageSize)
            args.uint64(UInt64(kvPageStride(layout)))
            args.float(scale)
        }
    }
}
