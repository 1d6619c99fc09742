/// Skinny tensor-core GEMMs (`Kernels/gemv.cu`) for linear layers of decode-sized batches.
extension CUDABackend {
    /// Whether `linear` uses the skinny GEMM for `rows` activation rows of width `inFeatures`.
    func usesSkinnyGEMM(rows: Int, inFeatures: Int) -> Bool {
        rows > 0 && rows <= min(perf.gemvMaxRows, 64) && inFeatures % 8 == 0 && inFeatures > 0
    }

    /// Launch shape of the skinny GEMM: `nt` n-tiles of 8 tokens, `warps` warps splitting K per 16-row tile,
    /// `tilesPerBlock` row tiles per block (blocks of at least 4 warps), `blocks` blocks.
    static func skinnyGEMMPlan(rows: Int, outFeatures: Int, inFeatures: Int, multiprocessors: Int)
        -> (nt: Int, warps: Int, tiles: Int, tilesPerBlock: Int, blocks: Int)
    {
        let nt = [1, 2, 4, 8].first { 8 * $0 >= rows } ?? 8
        let tiles = (outFeatures + 15) / 16
        let chunks = (inFeatures + 31) / 32
        // Enough warps in flight to cover the memory latency (≈ 16 per multiprocessor), at least 2 chunks each.
        let wanted = (16 * max(multiprocessors, 1) + tiles - 1) / tiles
        var warps = 1
        while warps < 8, warps < wanted, chunks >= 4 * warps { warps *= 2 }
        let perBlock = max(1, 4 / warps)
        return (nt, warps, tiles, perBlock, (tiles + perBlock - 1) / perBlock)
    }

    /// `Y[rows, outFeatures] = X[rows, inFeatures] · Wᵀ (+ bias)` with the skinny GEMM (bias rounded as `addBias`).
    func skinnyGEMM(
        x: UInt64, weight: UInt64, bias: UInt64?, output: UInt64, rows: Int, outFeatures: Int, inFeatures: Int,
        label: String
    ) throws {
        let plan = Self.skinnyGEMMPlan(
            rows: rows, outFeatures: outFeatures, inFeatures: inFeatures,
            multiprocessors: device.multiprocessorCount)
        let warps = plan.warps * plan.tilesPerBlock
        let shared = plan.warps > 1 ? warps * plan.nt * 8 * 16 * 4 : 0
        try launch(
            "ernie_gemv_nt\(plan.nt)",
            LaunchConfiguration(grid: (plan.blocks, 1, 1), block: (32 * warps, 1, 1), sharedMemoryBytes: shared),
            cost: OpCost.gemm(m: rows, n: outFeatures, k: inFeatures), label: label, programmatic: true
        ) { args in
            args.pointer(x)
            args.pointer(weight)
            args.pointer(bias ?? 0)
            args.pointer(output)
            try args.int(rows)
            try args.int(outFeatures)
            try args.int(inFeatures)
            try args.int(plan.warps)
        }
    }
}
