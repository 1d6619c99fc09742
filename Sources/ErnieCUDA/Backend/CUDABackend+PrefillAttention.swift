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
    /// `prefillRowsPerBlock`, the items that visit the most keys first (causal attention makes the last rows of a long
    /// chunk the most work; launched last they would run alone at the end of the grid), ties in sequence and row
    /// order.
    static func prefillWorkItems(_ batch: ForwardBatch, group: Int) -> (sequences: [Int32], rows: [Int32]) {
        var items: [(sequence: Int32, row: Int32, keys: Int)] = []
        for (index, s) in batch.sequences.enumerated() {
            let rows = s.tokenCount * group
            var r = 0
            while r < rows {
                let lastRow = min(r + prefillRowsPerBlock, rows) - 1
                items.append((Int32(index), Int32(r), s.startPosition + lastRow / group + 1))
                r += prefillRowsPerBlock
            }
        }
        let order = items.indices.sorted { items[$0].keys != items[$1].keys ? items[$0].keys > items[$1].keys : $0 < $1 }
        return (order.map { items[$0].sequence }, order.map { items[$0].row })
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
