import ErnieModel

/// How the grouped MoE kernels (`Kernels/moe_grouped.cu`) run one MoE block.
struct GroupedMoEPlan: Equatable {
    /// Launch rows (tokens incl. padding), experts, top-k, hidden, expert width.
    var tokens: Int
    var experts: Int
    /// The experts this device holds (`MoEShape.expertRange`; all of them without expert parallelism).
    var heldExperts: Range<Int>
    var topK: Int
    var hidden: Int
    var inter: Int
    /// Shared expert: width, column chunks run as extra slots, chunk width (0 chunks when there is none).
    var sharedWidth: Int
    var sharedChunks: Int
    var chunkWidth: Int
    /// n-tiles of 8 tokens per pass, and warps splitting K in the expert kernels.
    var nt: Int
    var gateUpWarps: Int
    var downWarps: Int
    /// The expert kernels on the warpgroup MMA (`Kernels/moe_wgmma.cu`: one warpgroup per block, 64 weight rows per
    /// work item, up to 64 tokens per pass) instead of the mma.sync ones.
    var warpgroup: Bool

    /// Rows of the expert activations: routed pairs, then each shared chunk's tokens.
    var activationRows: Int { tokens * topK + sharedChunks * tokens }
    var activationWidth: Int { max(inter, chunkWidth) }
    /// Most (expert, tile) work items a kernel can see: every expert some pair can reach, plus the shared chunks.
    var maxSlots: Int { min(heldExperts.count, tokens * topK) + sharedChunks }

    static let maxExperts = 128
    static let maxTopK = 16
    static let maxPairs = 4096

    /// nil when the shapes are outside what the kernels handle. NT: 1 for steps of at most `nt1MaxTokens` (at least
    /// 8), 2 up to `nt2MaxTokens` (at least 16), else 4; a slot with more tokens than NT × 8 takes several passes over
    /// its weight rows (the later ones from L2).
    init?(
        tokens: Int, experts: Int, topK: Int, hidden: Int, inter: Int, sharedWidth: Int, nt1MaxTokens: Int = 16,
        nt2MaxTokens: Int = 64, heldExperts: Range<Int>? = nil, warpgroupMinTokens: Int = 0
    ) {
        guard tokens > 0, experts > 0, experts <= Self.maxExperts, topK > 0, topK <= min(experts, Self.maxTopK),
            tokens * topK <= Self.maxPairs, hidden % 8 == 0, inter % 8 == 0, sharedWidth % 8 == 0, hidden > 0,
            inter > 0
        else { return nil }
        self.tokens = tokens
        self.experts = experts
        self.heldExperts = heldExperts ?? 0..<experts
        guard self.heldExperts.lowerBound >= 0, self.heldExperts.upperBound <= experts, !self.heldExperts.isEmpty
        else { return nil }
        self.topK = topK
        self.hidden = hidden
        self.inter = inter
        self.sharedWidth = sharedWidth
        if sharedWidth == 0 {
            sharedChunks = 0
            chunkWidth = 0
        } else if sharedWidth % inter == 0 {
            sharedChunks = sharedWidth / inter
            chunkWidth = inter
        } else {
            sharedChunks = 1
            chunkWidth = sharedWidth
        }
        nt = tokens <= max(8, nt1MaxTokens) ? 1 : tokens <= max(16, nt2MaxTokens) ? 2 : 4
        // Up to 8 warps split K (blocks of 10 / 6 chunks per warp at ERNIE's shapes): bigger blocks quantise into
        // waves better than more, smaller ones at batch 1, where the grid is only ≈ 1.5 waves deep.
        func warps(_ k: Int) -> Int {
            let chunks = (k + 31) / 32
            var w = 1
            while w < 8, chunks >= 4 * w { w *= 2 }
            return w
        }
        gateUpWarps = warps(hidden)
        downWarps = warps(max(inter, chunkWidth))
        warpgroup = warpgroupMinTokens > 0 && tokens >= warpgroupMinTokens
    }

    /// Ring depth of the warpgroup expert kernels (`Kernels/moe_wgmma.cu`: must match the stages their wrappers pass,
    /// which size the stages in the dynamic shared memory): 24 KB (gate, up, tokens) and 16 KB (down, tokens) each,
    /// plus 1 KB for the 1024-byte alignment of the swizzled matrices.
    static let warpgroupStages = (gateUp: 4, down: 4)

    /// Threads per block of the gate|up and down kernels, and weight rows per work item.
    var gateUpThreads: Int { warpgroup ? 128 : 32 * gateUpWarps }
    var downThreads: Int { warpgroup ? 128 : 32 * downWarps }
    var rowsPerItem: Int { warpgroup ? 64 : 16 }

    /// Ring depth of the staged expert kernels (`Kernels/moe_staged.cu`, `ERNIE_MOE_STAGED_KERNELS(NT, …)`: these
    /// must match the kernels' GU_STAGES / DN_STAGES, which size the rings in the dynamic shared memory).
    static let stagedStages = (gateUp: 2, down: 2)

    /// Whether the staged kernels exist for this plan's token groups (NT 1 and 2; at NT 4 the register kernels
    /// measured faster).
    var hasStagedKernels: Bool { nt <= 2 }

    /// The gate|up kernel's function name and dynamic shared memory: the cross-warp reduction (2 × NT × 8 × 16 floats
    /// per warp), plus for the staged kernel a ring of 4096-byte stages per warp (16 rows × 64 columns of gate and up).
    func gateUpKernel(staged: Bool) -> (name: String, sharedBytes: Int) {
        if warpgroup { return ("ernie_moe_gate_up_wg", Self.warpgroupStages.gateUp * 3 * 8192 + 1024) }
        let reduction = gateUpWarps * 2 * nt * 8 * 16 * 4
        guard staged, hasStagedKernels else { return ("ernie_moe_gate_up_grouped_nt\(nt)", reduction) }
        return ("ernie_moe_gate_up_staged_nt\(nt)", reduction + gateUpWarps * Self.stagedStages.gateUp * 4096)
    }

    /// The down kernel's function name and dynamic shared memory: the cross-warp reduction (NT × 8 × 16 floats per
    /// warp), plus for the staged kernel a ring of 2048-byte stages per warp (16 rows × 64 columns).
    func downKernel(staged: Bool) -> (name: String, sharedBytes: Int) {
        if warpgroup { return ("ernie_moe_down_wg", Self.warpgroupStages.down * 2 * 8192 + 1024) }
        let reduction = downWarps * nt * 8 * 16 * 4
        guard staged, hasStagedKernels else { return ("ernie_moe_down_grouped_nt\(nt)", reduction) }
        return ("ernie_moe_down_staged_nt\(nt)", reduction + downWarps * Self.stagedStages.down * 2048)
    }

    /// Grid of a persistent expert kernel: every work item a launch can see, capped at the resident capacity
    /// (`blocksPerSM` from the compiled kernel's registers and shared memory).
    static func persistentGrid(items: Int, blocksPerSM: Int, multiprocessors: Int) -> Int {
        max(1, min(items, blocksPerSM * max(multiprocessors, 1)))
    }
}

extension CUDABackend {
    /// The grouped plan for an MoE block of `tokens` launch rows, or nil to use the previous paths.
    func groupedMoEPlan(tokens: Int, hidden: Int, shape: MoEShape, weights: MoEWeights<CUDAWeight>)
        -> GroupedMoEPlan?
    {
        guard tokens <= perf.groupedMoEMaxTokens, hidden % 4 == 0 else { return nil }
        var sharedWidth = 0
        if let shared = weights.shared {
            sharedWidth = shared.gateUp.weight.rows / 2
            guard shared.gateUp.weight.rows % 2 == 0, shared.gateUp.weight.columns == hidden,
                shared.gateUp.weight.elementType == .bfloat16, shared.down.weight.elementType == .bfloat16,
                shared.down.weight.rows == hidden, shared.down.weight.columns == sharedWidth,
                shared.down.bias.map({ $0.elementCount >= hidden && $0.elementType == .bfloat16 }) ?? true,
                shared.gateUp.bias.map({ $0.elementCount >= 2 * sharedWidth && $0.elementType == .bfloat16 }) ?? true
            else { return nil }
        }
        if let b = weights.expertsGateUpBias, b.elementType != .bfloat16 { return nil }
        if let b = weights.expertsDownBias, b.elementType != .bfloat16 { return nil }
        return GroupedMoEPlan(
            tokens: tokens, experts: shape.numExperts, topK: shape.topK, hidden: hidden,
            inter: shape.intermediateSize, sharedWidth: sharedWidth,
            nt1MaxTokens: perf.moeNT1MaxTokens, nt2MaxTokens: perf.moeNT2MaxTokens, heldExperts: shape.expertRange,
            warpgroupMinTokens: perf.moeWarpgroupMinTokens)
    }

    /// Router + grouping, gate|up with SiLU·mul, down, combine: four kernels, no host round trip.
    func groupedMoE(
        _ x: CUDATensor, weights: MoEWeights<CUDAWeight>, shape: MoEShape, plan: GroupedMoEPlan
    ) throws -> CUDATensor {
        let step = try currentStep("moe")
        let t = plan.tokens
        let e = plan.experts
        let k = plan.topK
        let h = plan.hidden
        func ints(_ n: Int, _ label: String) throws -> CUDATensor {
            try makeTensor(rows: 1, launchRows: 1, columns: max(n, 1), .int32, label)
        }
        let logits = try makeTensor(rows: t, launchRows: t, columns: e, .float32, "router logits")
        let ids = try ints(t * k, "top-k ids")
        let routeWeights = try makeTensor(rows: 1, launchRows: 1, columns: t * k, .float32, "top-k weights")
        let offsets = try ints(e + 1, "expert offsets")
        let active = try ints(e, "active experts")
        let meta = try ints(8, "moe counts")
        let pairs = try ints(t * k, "sorted pairs")
        let rowOf = try ints(t * k, "pair rows")
        let counts = step.counts
        try launch(
            "ernie_moe_router_grouped",
            LaunchConfiguration(grid: ((e + 1) / 2, (t + 7) / 8, 1), block: (256, 1, 1)),
            cost: OpCost(bytes: Double(e * h * 4 + t * h * 2), flops: Double(2 * t * e * h)), label: "moe router",
            programmatic: true
        ) { args in
            args.pointer(x.address)
            args.pointer(weights.router.address)
            args.pointer(weights.correctionBias?.address ?? 0)
            args.pointer(logits.address)
            args.pointer(moeTicket.address)
            args.pointer(ids.address)
            args.pointer(routeWeights.address)
            args.pointer(offsets.address)
            args.pointer(active.address)
            args.pointer(meta.address)
            args.pointer(pairs.address)
            args.pointer(rowOf.address)
            args.pointer(counts)
            try args.int(t)
            try args.int(h)
            try args.int(e)
            try args.int(k)
            args.float(shape.normMin)
            try args.int(plan.heldExperts.lowerBound)
            try args.int(plan.heldExperts.upperBound)
        }
        // Bytes the expert kernels read depend on the routing; a profile reads the active count back (eager only).
        var slots = Double(plan.maxSlots)
        if profiler != nil {
            let m = try stream.download(Int32.self, count: 1, from: meta.address)
            slots = Double(Int(m[0]) + plan.sharedChunks)
        }
        let activations = try makeTensor(
            rows: plan.activationRows, launchRows: plan.activationRows, columns: plan.activationWidth, .bfloat16,
            "expert activations")
        let expertOut = try makeTensor(
            rows: plan.activationRows, launchRows: plan.activationRows, columns: h, .float32, "expert outputs")
        let tileRows = plan.rowsPerItem
        let pairsReal = Double(step.tokenCount * k + plan.sharedChunks * step.tokenCount)
        let shared = weights.shared
        // Persistent blocks: at most the resident capacity (off: one block per work item).
        let sms = perf.persistentMoE ? device.multiprocessorCount : Int.max / 64
        // Plans of 8 or 16 tokens per pass (NT 1, 2) stream the weights through shared-memory rings
        // (ERNIE_CUDA_MOE_STAGED=0: the register-buffered kernels, which NT 4 always uses).
        let (gateUpName, gateUpShared) = plan.gateUpKernel(staged: perf.stagedMoE)
        let gateUpItems = plan.maxSlots * ((plan.activationWidth + tileRows - 1) / tileRows)
        let gateUpGrid = GroupedMoEPlan.persistentGrid(
            items: gateUpItems,
            blocksPerSM: try kernels.function(gateUpName).residentBlocksPerMultiprocessor(
                threads: plan.gateUpThreads, sharedBytes: gateUpShared),
            multiprocessors: sms)
        try launch(
            gateUpName,
            LaunchConfiguration(
                grid: (gateUpGrid, 1, 1), block: (plan.gateUpThreads, 1, 1), sharedMemoryBytes: gateUpShared),
            cost: OpCost(
                bytes: slots * Double(2 * plan.inter * h * 2) + pairsReal * Double(h * 2 + plan.inter * 2),
                flops: pairsReal * Double(2 * 2 * plan.inter * h)),
            label: "moe gate-up (grouped)", programmatic: true
        ) { args in
            args.pointer(x.address)
            args.pointer(offsets.address)
            args.pointer(active.address)
            args.pointer(meta.address)
            args.pointer(pairs.address)
            args.pointer(weights.expertsGateUp.address)
            args.pointer(weights.expertsGateUpBias?.address ?? 0)
            args.pointer(shared?.gateUp.weight.address ?? 0)
            args.pointer(shared?.gateUp.bias?.address ?? 0)
            args.pointer(activations.address)
            try args.int(t)
            try args.int(h)
            try args.int(plan.inter)
            try args.int(k)
            try args.int(plan.sharedChunks)
            try args.int(plan.chunkWidth)
            try args.int(plan.sharedWidth)
        }
        let (downName, downShared) = plan.downKernel(staged: perf.stagedMoE)
        let downItems = plan.maxSlots * ((h + tileRows - 1) / tileRows)
        let downGrid = GroupedMoEPlan.persistentGrid(
            items: downItems,
            blocksPerSM: try kernels.function(downName).residentBlocksPerMultiprocessor(
                threads: plan.downThreads, sharedBytes: downShared),
            multiprocessors: sms)
        try launch(
            downName,
            LaunchConfiguration(grid: (downGrid, 1, 1), block: (plan.downThreads, 1, 1), sharedMemoryBytes: downShared),
            cost: OpCost(
                bytes: slots * Double(plan.inter * h * 2) + pairsReal * Double(plan.inter * 2 + h * 4),
                flops: pairsReal * Double(2 * plan.inter * h)),
            label: "moe down (grouped)", programmatic: true
        ) { args in
            args.pointer(activations.address)
            args.pointer(offsets.address)
            args.pointer(active.address)
            args.pointer(meta.address)
            args.pointer(weights.expertsDown.address)
            args.pointer(shared?.down.weight.address ?? 0)
            args.pointer(expertOut.address)
            try args.int(t)
            try args.int(h)
            try args.int(plan.inter)
            try args.int(k)
            try args.int(plan.sharedChunks)
            try args.int(plan.chunkWidth)
            try args.int(plan.sharedWidth)
        }
        let out = try makeTensor(rows: x.rows, launchRows: t, columns: h, .bfloat16, "moe output")
        try launch(
            "ernie_moe_combine_grouped",
            LaunchConfiguration(grid: (t, (h / 4 + 127) / 128, 1), block: (128, 1, 1)),
            cost: OpCost(bytes: pairsReal * Double(h * 4) + Double(step.tokenCount * h * 2)), label: "moe combine",
            programmatic: true
        ) { args in
            args.pointer(expertOut.address)
            args.pointer(rowOf.address)
            args.pointer(ids.address)
            args.pointer(routeWeights.address)
            args.pointer(weights.expertsDownBias?.address ?? 0)
            args.pointer(shared?.down.bias?.address ?? 0)
            args.pointer(meta.address)
            args.pointer(out.address)
            try args.int(t)
            try args.int(h)
            try args.int(k)
            try args.int(plan.sharedChunks)
            try args.int(plan.heldExperts.lowerBound)
        }
        return out
    }
}
