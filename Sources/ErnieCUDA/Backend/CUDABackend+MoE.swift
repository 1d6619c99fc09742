import ErnieModel
import Foundation

extension CUDABackend {
    /// Most (token, expert) pairs the small-batch path handles; larger batches group rows by expert for cuBLASLt.
    static let smallBatchPairs = 96

    /// The MoE block: router kernel (FP32 logits, softmax, biased top-k, renormalised bf16 weights), then
    /// - small batches (≤ `smallBatchPairs` pairs, widths multiples of 8): two GEMV-style kernels read the router's
    ///   ids on the device (gate|up + SiLU·mul per pair, then down + weighted combine per token), no host round trip;
    /// - otherwise: the ids are read back and grouped by expert on the host (`MoEPlan`), rows gathered in expert
    ///   order, the experts' gate|up, SiLU·mul, down — one strided-batched cuBLASLt GEMM per direction over every
    ///   expert's rows padded to the largest count when that wastes little (`MoEPlan.minimumBatchedFill`), else one
    ///   GEMM per active expert, side by side on `ExpertStreams` in steps of at least
    ///   `perf.moeExpertStreamsMinTokens` tokens —, weighted combine.
    /// The shared expert is a dense SwiGLU MLP through `linear`.
    ///
    /// With expert parallelism (`shape.expertRange` not every expert: `--ep-size`) the expert weights stack only the
    /// experts of the range; routing is over all experts, the grouped and host-grouped paths compute only the pairs of
    /// the experts held here, and the combine adds nothing for the others (the all-reduce after the block sums the
    /// ranks). The small-batch kernels index the weights by the router's ids, so they are not used then.
    public func moe(_ x: CUDATensor, weights: MoEWeights<CUDAWeight>, shape: MoEShape) throws -> CUDATensor {
        try bodyOp { try moeBody(x, weights: weights, shape: shape) }
    }

    private func moeBody(_ x: CUDATensor, weights: MoEWeights<CUDAWeight>, shape: MoEShape) throws -> CUDATensor {
        try requireBF16(x, "moe input")
        let tokens = x.launchRows
        let hidden = x.columns
        let experts = shape.numExperts
        let topK = shape.topK
        let inter = shape.intermediateSize
        let local = shape.expertRange
        let held = local.count
        guard experts > 0, topK > 0, topK <= min(experts, 64), inter > 0, local.lowerBound >= 0,
            local.upperBound <= experts, held > 0
        else {
            throw CUDAError.invalidArgument(
                "unsupported MoE shape \(shape) (top-k must be 1...min(experts, 64), held experts within them)")
        }
        let router = weights.router
        guard router.elementType == .float32, router.rows == experts, router.columns == hidden else {
            throw CUDAError.invalidArgument(
                "MoE router \(router.name) must be float32 [\(experts), \(hidden)], got \(router.shape) "
                    + "\(router.elementType)"
            )
        }
        if let bias = weights.correctionBias {
            guard bias.elementType == .float32, bias.elementCount == experts else {
                throw CUDAError.invalidArgument("correction bias \(bias.name) must be float32 [\(experts)]")
            }
        }
        let gateUp = weights.expertsGateUp
        let down = weights.expertsDown
        guard gateUp.elementType == .bfloat16, gateUp.rows == held * 2 * inter, gateUp.columns == hidden else {
            throw CUDAError.invalidArgument(
                "experts gate|up \(gateUp.name) \(gateUp.shape) is not [\(held * 2 * inter), \(hidden)]"
            )
        }
        guard down.elementType == .bfloat16, down.rows == held * hidden, down.columns == inter else {
            throw CUDAError.invalidArgument(
                "experts down \(down.name) \(down.shape) is not [\(held * hidden), \(inter)]")
        }
        guard x.rows > 0 else { return try makeTensor(rows: 0, columns: hidden, .bfloat16, "moe output") }
        if let step, x.rows == step.tokenCount, x.launchRows == step.launchRows,
            let plan = groupedMoEPlan(tokens: tokens, hidden: hidden, shape: shape, weights: weights)
        {
            return try groupedMoE(x, weights: weights, shape: shape, plan: plan)
        }

        // 1. Routing.
        let ids = try makeTensor(rows: tokens, columns: topK, .int32, "top-k ids")
        let routeWeights = try makeTensor(rows: tokens, columns: topK, .float32, "top-k weights")
        if perf.groupedMoEMaxTokens > 0, experts <= GroupedMoEPlan.maxExperts,
            topK <= GroupedMoEPlan.maxTopK
        {
            try routeRows(x, weights: weights, shape: shape, ids: ids, routeWeights: routeWeights)
        } else {
            try launch(
                "ernie_moe_route",
                LaunchConfiguration(
                    grid: (tokens, 1, 1), block: (256, 1, 1), sharedMemoryBytes: (hidden + experts) * 4),
                cost: OpCost(bytes: Double(experts * hidden * 4 + tokens * hidden * 2)), label: "moe route"
            ) { args in
                args.pointer(x.address)
                args.pointer(router.address)
                args.pointer(weights.correctionBias?.address ?? 0)
                args.pointer(ids.address)
                args.pointer(routeWeights.address)
                try args.int(hidden)
                try args.int(experts)
                try args.int(topK)
                args.float(shape.normMin)
            }
        }
        // Shared expert (a dense SwiGLU MLP on every token).
        func sharedExpert() throws -> CUDATensor? {
            guard let shared = weights.shared else { return nil }
            let sgu = try linear(x, shared.gateUp.weight, bias: shared.gateUp.bias)
            let sact = try siluAndMul(sgu)
            return try linear(sact, shared.down.weight, bias: shared.down.bias)
        }
        let out = try makeTensor(rows: x.rows, launchRows: tokens, columns: hidden, .bfloat16, "moe output")
        if !shape.isExpertParallel, tokens * topK <= Self.smallBatchPairs, hidden % 8 == 0, inter % 8 == 0,
            topK * inter * 2 <= device.maxSharedMemoryPerBlockOptin, hidden * 2 <= device.maxSharedMemoryPerBlockOptin
        {
            let sharedOut = try sharedExpert()
            let h = try makeTensor(rows: tokens * topK, columns: inter, .bfloat16, "expert activations")
            try launch(
                "ernie_moe_gate_up_small",
                LaunchConfiguration(
                    grid: ((inter + 7) / 8, tokens * topK, 1), block: (256, 1, 1),
                    sharedMemoryBytes: hidden * 2),
                cost: OpCost(bytes: Double(tokens * topK * 2 * inter * hidden * 2)), label: "moe gate-up (small)"
            ) { args in
                args.pointer(x.address)
                args.pointer(ids.address)
                args.pointer(gateUp.address)
                args.pointer(weights.expertsGateUpBias?.address ?? 0)
                args.pointer(h.address)
                try args.int(hidden)
                try args.int(inter)
                try args.int(topK)
            }
            try launch(
                "ernie_moe_down_small",
                LaunchConfiguration(
                    grid: ((hidden + 7) / 8, tokens, 1), block: (256, 1, 1),
                    sharedMemoryBytes: topK * inter * 2),
                cost: OpCost(bytes: Double(tokens * topK * inter * hidden * 2)), label: "moe down (small)"
            ) { args in
                args.pointer(h.address)
                args.pointer(ids.address)
                args.pointer(routeWeights.address)
                args.pointer(down.address)
                args.pointer(weights.expertsDownBias?.address ?? 0)
                args.pointer(sharedOut?.address ?? 0)
                args.pointer(out.address)
                try args.int(hidden)
                try args.int(inter)
                try args.int(topK)
            }
            return out
        }
        // 2. Group by expert on the host (a round trip: not replayable in a graph). The ids are copied right behind the
        // routing and the shared expert's GEMMs queued after the copy, so the GPU runs them while the host waits for
        // the ids and plans.
        try bodyIsNotGraphable()
        let hostIDs = try routingIDsToHost(ids, count: tokens * topK) { try sharedExpert() }
        let sharedOut = hostIDs.queued
        let plan = try MoEPlan(topKIds: hostIDs.ids, tokens: tokens, topK: topK, experts: experts, held: local)
        let batched = perf.batchedMoE && weights.expertsGateUpBias == nil && weights.expertsDownBias == nil
            && !shape.isExpertParallel && plan.paddedFill >= MoEPlan.minimumBatchedFill
        let layout = batched ? plan.padded() : (rowsPerExpert: 0, sortedTokens: plan.sortedTokens, rowOf: plan.rowOf)
        // Expert parallelism: the plan gave rows to the held experts' pairs only (the combine skips rowOf -1); their
        // weights are stacked from the first held expert.
        let heldExperts = plan.activeExperts.map { (expert: $0.expert - local.lowerBound, rows: $0.rows) }
        // (With expert parallelism a step may route nothing here: one idle row keeps every launch non-empty.)
        let rows = max(1, batched ? experts * layout.rowsPerExpert : plan.sortedTokens.count)
        let sortedTokens = try uploads.upload(layout.sortedTokens.isEmpty ? [0] : layout.sortedTokens)
        let rowOf = try uploads.upload(layout.rowOf)
        // 3. Experts: one strided-batched GEMM per direction over every expert's padded rows, or one GEMM per active
        // expert over its sorted rows.
        let xs = try makeTensor(rows: rows, columns: hidden, .bfloat16, "expert inputs")
        try gatherRows(source: x.address, rowIndices: sortedTokens, count: rows, width: hidden, into: xs.address)
        let gu = try makeTensor(rows: rows, columns: 2 * inter, .bfloat16, "expert gate|up")
        let act = try makeTensor(rows: rows, columns: inter, .bfloat16, "expert activations")
        let ys = try makeTensor(rows: rows, columns: hidden, .bfloat16, "expert outputs")
        if batched {
            try gemm(
                x: xs.address, weight: gateUp.address, output: gu.address, rows: layout.rowsPerExpert,
                outFeatures: 2 * inter, inFeatures: hidden, batch: experts, label: "cublas experts gate-up (batched)")
        } else {
            try perExpert(heldExperts, tokens: tokens) { expert, range in
                try gemm(
                    x: xs.address(row: range.lowerBound),
                    weight: gateUp.address + UInt64(expert * 2 * inter * hidden * 2),
                    output: gu.address(row: range.lowerBound), rows: range.count, outFeatures: 2 * inter,
                    inFeatures: hidden, label: "cublas expert gate-up"
                )
                if let bias = weights.expertsGateUpBias {
                    try addBias(
                        gu.address(row: range.lowerBound), rows: range.count, columns: 2 * inter, bias: bias,
                        biasOffset: expert * 2 * inter)
                }
            }
        }
        try siluAndMul(gu.address, rows: rows, intermediate: inter, into: act.address)
        if batched {
            try gemm(
                x: act.address, weight: down.address, output: ys.address, rows: layout.rowsPerExpert,
                outFeatures: hidden, inFeatures: inter, batch: experts, label: "cublas experts down (batched)")
        } else {
            try perExpert(heldExperts, tokens: tokens) { expert, range in
                try gemm(
                    x: act.address(row: range.lowerBound), weight: down.address + UInt64(expert * hidden * inter * 2),
                    output: ys.address(row: range.lowerBound), rows: range.count, outFeatures: hidden,
                    inFeatures: inter, label: "cublas expert down"
                )
                if let bias = weights.expertsDownBias {
                    try addBias(
                        ys.address(row: range.lowerBound), rows: range.count, columns: hidden, bias: bias,
                        biasOffset: expert * hidden)
                }
            }
        }
        // 4. Combine.
        try launch(
            "ernie_moe_combine", LaunchConfiguration(grid: (tokens, 1, 1), block: (256, 1, 1)),
            cost: OpCost(bytes: Double(tokens * (topK + 2) * hidden * 2)), label: "moe combine"
        ) { args in
            args.pointer(ys.address)
            args.pointer(rowOf)
            args.pointer(ids.address)
            args.pointer(routeWeights.address)
            args.pointer(sharedOut?.address ?? 0)
            args.pointer(out.address)
            try args.int(hidden)
            try args.int(topK)
        }
        // The lanes read and wrote these through raw addresses; the pool may hand them out again only now.
        withExtendedLifetime((xs, gu, act, ys)) {}
        return out
    }

    /// Queues `body`'s launches for each expert (its index in the stacked weights and its sorted rows): on the side
    /// streams of `ExpertStreams` when there are several and the step has at least `perf.moeExpertStreamsMinTokens`
    /// tokens (eager steps, no profile), else on the backend's stream.
    private func perExpert(
        _ experts: [(expert: Int, rows: Range<Int>)], tokens: Int, _ body: (Int, Range<Int>) throws -> Void
    ) throws {
        guard experts.count > 1, tokens >= perf.moeExpertStreamsMinTokens, let streams = try expertLanes() else {
            for (expert, range) in experts { try body(expert, range) }
            return
        }
        let laneOf = ExpertStreams.assign(rows: experts.map(\.rows.count), lanes: streams.lanes.count)
        let used = Set(laneOf)
        try streams.fork(from: stream, lanes: used)
        defer { launchState.lane = nil }
        for (i, (expert, range)) in experts.enumerated() {
            launchState.lane = streams.lanes[laneOf[i]]
            try body(expert, range)
        }
        launchState.lane = nil
        try streams.join(into: stream, lanes: used)
    }

    /// The side streams for per-expert GEMMs, made on first use; nil when they are off (`moeExpertStreams` 1), while
    /// a profile is taken (its events bracket launches on the backend's stream) or outside an eager body.
    private func expertLanes() throws -> ExpertStreams? {
        guard perf.moeExpertStreams > 1, profiler == nil, case .eager = launchState.mode else { return nil }
        let streams = try expertStreams ?? ExpertStreams(device: device, count: perf.moeExpertStreams, blas: blas)
        expertStreams = streams
        try streams.open()
        return streams
    }

    /// Asks cuBLASLt's heuristic ahead for every per-expert GEMM a host-grouped step can make — row counts 1 ...
    /// `maxTokensPerStep` in both directions, operands 256-byte aligned as the pool's are —, on up to 16 threads
    /// (`ERNIE_CUDA_GEMM_PREPARE`), then launches each distinct algorithm once so its kernel is loaded. The counts
    /// follow each prompt's routing, so without this every new prompt paid queries of 0.15–0.4 ms each on the host:
    /// a 2048-token prefill of a new prompt took 137 ms against 50 ms for a repeated one (H200, round 8).
    public func prepareMoE(_ shape: MoEShape, hidden: Int) throws {
        guard perf.gemmPrepare, hidden > 0, shape.intermediateSize > 0 else { return }
        let inter = shape.intermediateSize
        let families = [
            GemmShape(rows: 0, outFeatures: 2 * inter, inFeatures: hidden, output: .bfloat16, addresses: [256]),
            GemmShape(rows: 0, outFeatures: hidden, inFeatures: inter, output: .bfloat16, addresses: [256]),
        ]
        let threads = min(16, ProcessInfo.processInfo.activeProcessorCount)
        blas.prepare(
            families: families, upTo: configuration.maxTokensPerStep, threads: threads, context: device.contextBinder)
        try blas.loadPreparedKernels(device: device, stream: stream)
        // The router's GEMM over its three bf16 parts (`routeRows`) takes the step's row count; its few algorithms
        // are loaded after the experts' so they cannot crowd those out of the warm-up (round 8, R47).
        guard perf.routerGEMM, hidden % 8 == 0 else { return }
        let router = GemmShape(
            rows: 0, outFeatures: 3 * shape.numExperts, inFeatures: hidden, output: .float32, addresses: [256])
        blas.prepare(
            families: [router], upTo: configuration.maxTokensPerStep, threads: threads, context: device.contextBinder)
        try blas.loadPreparedKernels(device: device, stream: stream, limit: 32) { $0.m == router.m && $0.k == router.k }
    }

    /// The step's top-k ids on the host: copied behind the routing into page-locked memory, then `queue`'s launches
    /// (the shared expert) enqueued behind the copy, then a wait for the copy alone — the GPU works on `queue`'s
    /// launches while the host waits and plans (before, the host waited for the whole stream). `queue` must not
    /// upload: the upload arena is recycled once the copy is done, which every upload queued before it then is.
    private func routingIDsToHost<Queued>(_ ids: CUDATensor, count: Int, queue: () throws -> Queued) throws
        -> (ids: [Int32], queued: Queued)
    {
        let bytes = count * 4
        if (routingHost?.byteCount ?? 0) < bytes {
            routingHost = try PinnedHostBuffer(device: device, byteCount: max(bytes, 64 << 10), label: "MoE top-k ids")
        }
        let host = routingHost!
        // (ERNIE_CUDA_MOE_ROUTING_OVERLAP=0: the launches first, so the copy waits behind them, as before.)
        let early = perf.routingOverlap ? nil : try queue()
        try stream.copy(toHost: host, from: ids.address, byteCount: bytes)
        try routingCopied.record(on: stream)
        let queued = try early ?? queue()
        try routingCopied.synchronize()
        uploads.recycle()
        let values = Array(UnsafeBufferPointer(start: host.pointer.assumingMemoryBound(to: Int32.self), count: count))
        return (values, queued)
    }

    /// Routing of a large step (fast paths on): router logits, then one warp per token for softmax and the biased
    /// top-k (the grouped path's routing). The logits: a bf16 tensor-core GEMM over the router split into three bf16
    /// parts (`perf.routerGEMM`, hidden a multiple of 8), else a tiled fp32 product (64 tokens × 64 experts per block:
    /// 4.9 ms per 8192-token prefill on the H200). The one-block-per-token `ernie_moe_route` re-reads the whole
    /// router for every token: 12.2 ms per 8192-token prefill (and 19.5 ms for the grouped router's 8-token logits
    /// kernel run over all rows).
    func routeRows(
        _ x: CUDATensor, weights: MoEWeights<CUDAWeight>, shape: MoEShape, ids: CUDATensor,
        routeWeights: CUDATensor
    ) throws {
        let tokens = x.launchRows
        let hidden = x.columns
        let experts = shape.numExperts
        let parts = perf.routerGEMM && hidden % 8 == 0 ? 3 : 1
        let logits = try makeTensor(
            rows: tokens, launchRows: tokens, columns: parts * experts, .float32, "router logits")
        if parts == 3 {
            let split = try routerSplit(weights.router)
            try gemm(
                x: x.address, weight: split.address, output: logits.address, rows: tokens,
                outFeatures: 3 * experts, inFeatures: hidden, outputType: .float32, label: "moe router (3 bf16 parts)")
        } else {
            try launch(
                "ernie_moe_router_logits",
                LaunchConfiguration(grid: ((tokens + 63) / 64, (experts + 63) / 64, 1), block: (256, 1, 1)),
                cost: OpCost(
                    bytes: Double(experts * hidden * 4 + tokens * hidden * 2),
                    flops: Double(2 * tokens * experts * hidden)),
                label: "moe router"
            ) { args in
                args.pointer(x.address)
                args.pointer(weights.router.address)
                args.pointer(logits.address)
                try args.int(tokens)
                try args.int(hidden)
                try args.int(experts)
            }
        }
        try launch(
            "ernie_moe_route_rows", LaunchConfiguration(grid: ((tokens + 7) / 8, 1, 1), block: (256, 1, 1)),
            cost: OpCost(bytes: Double(tokens * experts * 4)), label: "moe route"
        ) { args in
            args.pointer(logits.address)
            args.pointer(weights.correctionBias?.address ?? 0)
            args.pointer(ids.address)
            args.pointer(routeWeights.address)
            try args.int(tokens)
            try args.int(experts)
            try args.int(shape.topK)
            args.float(shape.normMin)
            try args.int(parts)
        }
    }

    /// `router` (FP32 [E, H]) as three stacked bf16 parts [3E, H] (`ernie_moe_router_split`), made on first use.
    private func routerSplit(_ router: CUDAWeight) throws -> DeviceBuffer {
        if let split = routerSplits[router.address] { return split }
        let count = router.rows * router.columns
        let split = try DeviceBuffer(device: device, byteCount: 3 * count * 2, label: "\(router.name) (3 bf16 parts)")
        try launch(
            "ernie_moe_router_split",
            LaunchConfiguration(grid: (min(1024, (count + 255) / 256), 1, 1), block: (256, 1, 1)),
            cost: OpCost(bytes: Double(count * 10)), label: "moe router split"
        ) { args in
            args.pointer(router.address)
            args.pointer(split.address)
            try args.int(count)
        }
        routerSplits[router.address] = split
        return split
    }
}
