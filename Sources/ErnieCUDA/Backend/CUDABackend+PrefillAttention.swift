import ErnieModel

/// Tensor-core flash attention for steps with prefill chunks (`Kernels/prefill_attention.cu`).
extension CUDABackend {
    /// Keys per shared-memory tile of both kernels.
    static let prefillKeysPerTile = 64

    /// One of the flash prefill kernels: `ernie_prefill_attention_hd*` (4 warps × 16 packed rows), the wide
    /// `ernie_prefill_attention_m32_hd*` (4 warps × 32 rows: each K/V fragment read from shared memory feeds twice the
    /// mmas), or `ernie_prefill_attention_wg{2,3}_hd128` (two or three warpgroups × 64 rows on wgmma, sm_90a:
    /// `Kernels/prefill_attention_wgmma.cu`).
    struct PrefillAttentionKernel: Equatable {
        let name: String
        /// Packed (token, head) rows per block (one work item).
        let rowsPerBlock: Int
        /// Dynamic shared memory: two stages of a K and a V tile of 64 keys × (head_dim + 8) bf16 (the wgmma kernel:
        /// Q, three stages of K and V, 128-byte swizzled, and room to align them to 1 KB).
        let sharedBytes: Int
        let threads: Int
    }

    static func prefillAttentionSupported(headDim: Int, group: Int) -> Bool {
        (headDim == 64 || headDim == 128) && group >= 1
    }

    /// The wgmma kernel with `warpgroups` (2 or 3) warpgroups of 64 packed rows: head_dim 128 only. Shared memory: Q
    /// (16 KB per warpgroup), three stages of a K and a V tile (32 KB), 1 KB to align them.
    static func wgmmaPrefillAttention(warpgroups: Int) -> PrefillAttentionKernel {
        PrefillAttentionKernel(
            name: "ernie_prefill_attention_wg\(warpgroups)_hd128", rowsPerBlock: 64 * warpgroups,
            sharedBytes: 16384 * warpgroups + 3 * 32768 + 1024, threads: 128 * warpgroups)
    }

    static func prefillAttentionKernel(headDim: Int, wide: Bool) -> PrefillAttentionKernel {
        PrefillAttentionKernel(
            name: wide ? "ernie_prefill_attention_m32_hd\(headDim)" : "ernie_prefill_attention_hd\(headDim)",
            rowsPerBlock: wide ? 128 : 64,
            sharedBytes: 2 * 2 * prefillKeysPerTile * (headDim + 8) * 2, threads: 128)
    }

    /// The kernel a prefill of head_dim `hd` runs: the wgmma one when asked for (`perf.flashPrefillWarpgroups`, which
    /// `CUDABackend.supported` turns off where it was not compiled: sm_90a only), else the mma.sync ones.
    func prefillAttentionKernel(headDim hd: Int) -> PrefillAttentionKernel {
        if perf.flashPrefillWarpgroups > 0, hd == 128 {
            return Self.wgmmaPrefillAttention(warpgroups: perf.flashPrefillWarpgroups)
        }
        return Self.prefillAttentionKernel(headDim: hd, wide: perf.flashPrefillWide)
    }

    /// Work items (sequence, first packed row): each sequence's `tokenCount × group` (token, head) rows in blocks of
    /// `rowsPerBlock`, the items that visit the most keys first (causal attention makes the last rows of a long chunk
    /// the most work; launched last they would run alone at the end of the grid), ties in sequence and row order.
    static func prefillWorkItems(
        _ batch: ForwardBatch, group: Int, rowsPerBlock: Int
    ) -> (sequences: [Int32], rows: [Int32]) {
        var items: [(sequence: Int32, row: Int32, keys: Int)] = []
        for (index, s) in batch.sequences.enumerated() {
            let rows = s.tokenCount * group
            var r = 0
            while r < rows {
                let lastRow = min(r + rowsPerBlock, rows) - 1
                items.append((Int32(index), Int32(r), s.startPosition + lastRow / group + 1))
                r += rowsPerBlock
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
        let kernel = prefillAttentionKernel(headDim: hd)
        let items = Self.prefillWorkItems(step.batch, group: group, rowsPerBlock: kernel.rowsPerBlock)
        guard !items.sequences.isEmpty else { return }
        var info: [Int32] = []
        for s in step.batch.sequences {
            info += [Int32(s.tokenOffset), Int32(s.tokenCount), Int32(s.startPosition)]
        }
        let infoAddress = try uploads.upload(info)
        let itemSequences = try uploads.upload(items.sequences)
        let itemRows = try uploads.upload(items.rows)
        let scale = 1 / Float(hd).squareRoot()
        try launch(
            kernel.name,
            LaunchConfiguration(
                grid: (items.sequences.count, nkv, 1), block: (kernel.threads, 1, 1),
                sharedMemoryBytes: kernel.sharedBytes),
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
