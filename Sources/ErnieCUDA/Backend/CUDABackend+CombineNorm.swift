import ErnieModel

/// The grouped MoE's weighted combine, held back by `groupedMoE` so that when the next op is the residual add +
/// RMSNorm of its output (the next layer's input norm, or the final norm) both run as one launch
/// (`ernie_moe_combine_grouped_norm`). Any other op — and the end of the body — launches it alone first
/// (`bodyOp`, `finishBody`), so every reader sees the combined output.
struct PendingCombine {
    var out: CUDATensor
    var expertOut: UInt64
    var rowOf: UInt64
    var ids: UInt64
    var routeWeights: UInt64
    var downBias: UInt64
    var sharedBias: UInt64
    var meta: UInt64
    var topK: Int
    var sharedChunks: Int
    /// Bytes the combine moves (for the profile).
    var bytes: Double

    func arguments(_ args: inout KernelArguments) throws {
        args.pointer(expertOut)
        args.pointer(rowOf)
        args.pointer(ids)
        args.pointer(routeWeights)
        args.pointer(downBias)
        args.pointer(sharedBias)
        args.pointer(meta)
        args.pointer(out.address)
    }
}

extension CUDABackend {
    /// Threads per row of the fused kernel, and its widest row (`CN_THREADS`, `CN_VPT` in `moe_grouped.cu`).
    static let combineNormThreads = 512
    static let combineNormMaxWidth = 4 * 2 * combineNormThreads

    func launchCombine(_ c: PendingCombine) throws {
        let t = c.out.launchRows
        let h = c.out.columns
        try launch(
            "ernie_moe_combine_grouped",
            LaunchConfiguration(grid: (t, (h / 4 + 127) / 128, 1), block: (128, 1, 1)),
            cost: OpCost(bytes: c.bytes), label: "moe combine", programmatic: true
        ) { args in
            try c.arguments(&args)
            try args.int(t)
            try args.int(h)
            try args.int(c.topK)
            try args.int(c.sharedChunks)
        }
    }

    /// Launches a held-back combine on its own.
    func flushPendingCombine() throws {
        guard let pending = pendingCombine else { return }
        pendingCombine = nil
        try launchCombine(pending)
    }

    /// The residual add + RMSNorm of the held-back combine's output in the same launch, or nil when `x` is not that
    /// output (or the row is too wide for the fused kernel); the caller then flushes and runs the plain norm.
    func combineAndNorm(
        _ x: CUDATensor, residual: CUDATensor?, weight: CUDAWeight, eps: Float, normed: CUDATensor,
        residualOut: CUDATensor
    ) throws -> Bool {
        guard let c = pendingCombine, c.out.address == x.address, c.out.launchRows == x.launchRows,
            c.out.columns == x.columns, x.columns % 4 == 0, x.columns <= Self.combineNormMaxWidth
        else { return false }
        pendingCombine = nil
        let rows = x.launchRows
        let width = x.columns
        let threads = min(Self.combineNormThreads, max(32, ((width / 4 + 1) / 2 + 31) / 32 * 32))
        try launch(
            "ernie_moe_combine_grouped_norm", LaunchConfiguration(grid: (rows, 1, 1), block: (threads, 1, 1)),
            cost: OpCost(bytes: c.bytes + Double(rows * width * 2 * (residual == nil ? 2 : 3) + width * 2)),
            label: "moe combine+add+rmsnorm", programmatic: true
        ) { args in
            try c.arguments(&args)
            args.pointer(residual?.address ?? 0)
            args.pointer(weight.address)
            args.pointer(normed.address)
            args.pointer(residualOut.address)
            try args.int(rows)
            try args.int(width)
            try args.int(c.topK)
            try args.int(c.sharedChunks)
            args.float(eps)
        }
        return true
    }
}
