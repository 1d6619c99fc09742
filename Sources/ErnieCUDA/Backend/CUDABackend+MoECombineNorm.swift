import ErnieModel

/// The grouped MoE's combine and the next layer's residual add + RMSNorm as one launch
/// (`ERNIE_CUDA_MOE_FUSED_COMBINE_NORM`, `Kernels/moe_grouped.cu`, `ernie_moe_combine_add_rmsnorm`): one launch per
/// MoE layer less, bit-identical to `moe` then `addRMSNorm`. Everything else — the switch off, an MoE block off the
/// grouped path, a norm that `addRMSNorm` runs on the scalar kernel, rows wider than the kernel's block covers — makes
/// the two calls.
extension CUDABackend {
    /// The norm the grouped combine applies, its launch and its outputs.
    struct CombineNorm {
        var residual: CUDATensor?
        var weight: CUDAWeight
        var eps: Float
        /// The fused kernel's block size (`combineNormThreads`).
        var threads: Int
        /// `ernie_add_rmsnorm_vec`'s block size for the row width: the fused kernel sums the squares in its order.
        var normThreads: Int
        var normed: CUDATensor
        var residualOut: CUDATensor
    }

    /// The fused kernel's largest block and 8-column vectors per thread (its CAN_THREADS and CAN_VPT).
    static let combineNormMaxThreads = 384
    static let combineNormVectorsPerThread = 3

    /// The fused kernel's block size for rows of `width`: a thread per 8-column vector up to `combineNormMaxThreads`
    /// (a multiple of 32), at most `combineNormVectorsPerThread` vectors each; nil for other widths.
    static func combineNormThreads(width: Int) -> Int? {
        guard width > 0, width % 8 == 0 else { return nil }
        let vectors = width / 8
        let threads = min(combineNormMaxThreads, (vectors + 31) / 32 * 32)
        return vectors <= combineNormVectorsPerThread * threads ? threads : nil
    }

    public func moeAddRMSNorm(
        _ x: CUDATensor, weights: MoEWeights<CUDAWeight>, shape: MoEShape, residual: CUDATensor?,
        normWeight: CUDAWeight, eps: Float
    ) throws -> (output: CUDATensor, normed: CUDATensor, residual: CUDATensor) {
        if perf.fusedMoECombineNorm,
            let fused = fusedCombineNormPlan(
                x, weights: weights, shape: shape, residual: residual, normWeight: normWeight)
        {
            return try bodyOp {
                try validateMoE(x, weights: weights, shape: shape)
                let normed = try makeTensor(
                    rows: x.rows, launchRows: x.launchRows, columns: x.columns, .bfloat16, "normed")
                let residualOut = try makeTensor(
                    rows: x.rows, launchRows: x.launchRows, columns: x.columns, .bfloat16, "residual")
                let norm = CombineNorm(
                    residual: residual, weight: normWeight, eps: eps, threads: fused.threads,
                    normThreads: fused.normThreads, normed: normed, residualOut: residualOut)
                let output = try groupedMoE(x, weights: weights, shape: shape, plan: fused.plan, norm: norm)
                return (output, normed, residualOut)
            }
        }
        let output = try moe(x, weights: weights, shape: shape)
        let (normed, newResidual) = try addRMSNorm(output, residual: residual, weight: normWeight, eps: eps)
        return (output, normed, newResidual)
    }

    /// The grouped plan and the block sizes when the fused kernel can stand in for the two calls: `moe` would take the
    /// grouped path (a step's full set of rows), `addRMSNorm` would take `ernie_add_rmsnorm_vec` (a residual of the
    /// same rows, a bf16 norm weight of the row width, the fast elementwise kernels on) and the row fits the block.
    func fusedCombineNormPlan(
        _ x: CUDATensor, weights: MoEWeights<CUDAWeight>, shape: MoEShape, residual: CUDATensor?,
        normWeight: CUDAWeight
    ) -> (plan: GroupedMoEPlan, threads: Int, normThreads: Int)? {
        let width = x.columns
        let residualFits = residual.map {
            $0.elementType == .bfloat16 && $0.rows == x.rows && $0.columns == width && $0.launchRows == x.launchRows
        }
        guard let step, x.rows > 0, x.rows == step.tokenCount, x.launchRows == step.launchRows,
            residualFits ?? true, normWeight.elementType == .bfloat16, normWeight.elementCount == width,
            let normThreads = vectorizedNormThreads(width: width),
            let threads = Self.combineNormThreads(width: width), normThreads <= threads,
            let plan = groupedMoEPlan(tokens: x.launchRows, hidden: width, shape: shape, weights: weights)
        else { return nil }
        return (plan, threads, normThreads)
    }

    /// `ernie_moe_combine_add_rmsnorm` in place of `ernie_moe_combine_grouped` at the end of `groupedMoE`: the MoE
    /// output into `out`, the norm's into `norm.normed` and `norm.residualOut`.
    func combineAddRMSNorm(
        _ norm: CombineNorm, plan: GroupedMoEPlan, expertOut: CUDATensor, rowOf: CUDATensor, ids: CUDATensor,
        routeWeights: CUDATensor, meta: CUDATensor, weights: MoEWeights<CUDAWeight>, out: CUDATensor,
        pairsReal: Double
    ) throws {
        let t = plan.tokens
        let h = plan.hidden
        let tokenCount = try currentStep("moe").tokenCount
        // The combine's bytes, then the norm's: residual in, residual and normed rows out, the weight.
        let bytes = pairsReal * Double(h * 4) + Double(tokenCount * h * 2)
            + Double(t * h * 2 * (norm.residual == nil ? 2 : 3) + h * 2)
        try launch(
            "ernie_moe_combine_add_rmsnorm",
            LaunchConfiguration(grid: (t, 1, 1), block: (norm.threads, 1, 1), sharedMemoryBytes: h * 2),
            cost: OpCost(bytes: bytes), label: "moe combine+add+rmsnorm", programmatic: true
        ) { args in
            args.pointer(expertOut.address)
            args.pointer(rowOf.address)
            args.pointer(ids.address)
            args.pointer(routeWeights.address)
            args.pointer(weights.expertsDownBias?.address ?? 0)
            args.pointer(weights.shared?.down.bias?.address ?? 0)
            args.pointer(meta.address)
            args.pointer(norm.residual?.address ?? 0)
            args.pointer(norm.weight.address)
            args.pointer(out.address)
            args.pointer(norm.residualOut.address)
            args.pointer(norm.normed.address)
            try args.int(t)
            try args.int(h)
            try args.int(plan.topK)
            try args.int(plan.sharedChunks)
            try args.int(norm.normThreads)
            args.float(norm.eps)
        }
    }
}
