import ErnieModel

/// The post-attention residual add + RMSNorm inside the grouped MoE router (`ERNIE_CUDA_MOE_FUSED_NORM`,
/// `Kernels/moe_route.cu`, `ernie_moe_router_grouped_norm`): one launch per MoE layer less. Everything else — the other
/// MoE paths, a norm without a residual — takes `addRMSNorm` and then `moe`.
extension CUDABackend {
    /// The norm's weight, residual and the block's outputs, for the router that applies the norm.
    struct RouterNorm {
        var x: CUDATensor
        var residual: CUDATensor
        var weight: CUDAWeight
        var eps: Float
        var residualOut: CUDATensor
    }

    public func normedMoE(
        _ x: CUDATensor, residual: CUDATensor?, normWeight: CUDAWeight, eps: Float, weights: MoEWeights<CUDAWeight>,
        shape: MoEShape
    ) throws -> (output: CUDATensor, residual: CUDATensor) {
        if perf.fusedMoENorm, let residual, let plan = fusedNormPlan(x, residual: residual, normWeight: normWeight,
            weights: weights, shape: shape)
        {
            return try bodyOp {
                try requireBF16(x, "moe input")
                try requireBF16(residual, "moe residual")
                try validateMoE(hidden: x.columns, weights: weights, shape: shape)
                let normed = try makeTensor(
                    rows: x.rows, launchRows: x.launchRows, columns: x.columns, .bfloat16, "normed")
                let residualOut = try makeTensor(
                    rows: x.rows, launchRows: x.launchRows, columns: x.columns, .bfloat16, "residual")
                let output = try groupedMoE(
                    normed, weights: weights, shape: shape, plan: plan,
                    norm: RouterNorm(x: x, residual: residual, weight: normWeight, eps: eps, residualOut: residualOut))
                return (output, residualOut)
            }
        }
        let (normed, newResidual) = try addRMSNorm(x, residual: residual, weight: normWeight, eps: eps)
        return (try moe(normed, weights: weights, shape: shape), newResidual)
    }

    /// The grouped plan when the fused router applies: a step's full set of rows (as `moe` requires for the grouped
    /// path), a residual of the same shape, a bf16 norm weight of the row width, widths a multiple of 8, all experts.
    func fusedNormPlan(
        _ x: CUDATensor, residual: CUDATensor, normWeight: CUDAWeight, weights: MoEWeights<CUDAWeight>,
        shape: MoEShape
    ) -> GroupedMoEPlan? {
        guard let step, x.rows > 0, x.rows == step.tokenCount, x.launchRows == step.launchRows,
            residual.rows == x.rows, residual.launchRows == x.launchRows, residual.columns == x.columns,
            normWeight.elementType == .bfloat16, normWeight.elementCount == x.columns, x.columns % 8 == 0,
            !shape.isExpertParallel
        else { return nil }
        return groupedMoEPlan(tokens: x.launchRows, hidden: x.columns, shape: shape, weights: weights)
    }
}
