import ErnieModel
import Foundation
import Testing

@testable import ErnieCUDA

@Suite(.serialized, .enabled(if: TestDevice.available, "no CUDA device (GPU or emulator)"))
struct DeviceMoETests {
    /// transformers' Ernie4_5_MoeSparseMoeBlock on the host: FP32 router, softmax, top-k on p + bias, unbiased
    /// renormalised weights cast to bf16, bf16 experts, index_add in expert order, plus the shared expert.
    static func reference(
        x: [Float], tokens: Int, hidden: Int, experts: Int, topK: Int, inter: Int, router: [Float], bias: [Float],
        gateUp: [Float], down: [Float], sharedGateUp: [Float]?, sharedDown: [Float]?, sharedInter: Int,
        held: Range<Int>? = nil
    ) -> [Float] {
        func matvec(_ w: ArraySlice<Float>, _ v: [Float], rows: Int, cols: Int) -> [Float] {
            (0..<rows).map { r in
                var acc = 0.0
                for c in 0..<cols { acc += Double(w[w.startIndex + r * cols + c]) * Double(v[c]) }
                return bf(Float(acc))
            }
        }
        func swiglu(_ xr: [Float], _ gu: ArraySlice<Float>, _ dn: ArraySlice<Float>, _ width: Int) -> [Float] {
            let h = matvec(gu, xr, rows: 2 * width, cols: hidden)
            let act = (0..<width).map { bf(bf(h[$0] / (1 + expf(-h[$0]))) * h[width + $0]) }
            return matvec(dn, act, rows: hidden, cols: width)
        }
        var out = [Float]()
        for t in 0..<tokens {
            let xr = Array(x[(t * hidden)..<((t + 1) * hidden)])
            let logits = (0..<experts).map { e -> Float in
                var acc = 0.0
                for c in 0..<hidden { acc += Double(xr[c]) * Double(router[e * hidden + c]) }
                return Float(acc)
            }
            let m = logits.max()!
            let exps = logits.map { expf($0 - m) }
            let total = exps.reduce(0, +)
            let p = exps.map { $0 / total }
            let score: [Float] = (0..<experts).map { p[$0] + bias[$0] }
            let order = (0..<experts).sorted { a, b in score[a] > score[b] || (score[a] == score[b] && a < b) }
            let chosen = Array(order.prefix(topK))
            let sum = chosen.reduce(Float(0)) { $0 + p[$1] }
            var acc = [Float](repeating: 0, count: hidden)
            for e in chosen.sorted() where held?.contains(e) ?? true {  // expert parallelism: only the held ones
                let w = bf(p[e] / max(sum, 1e-12))
                let y = swiglu(xr, gateUp[(e * 2 * inter * hidden)...], down[(e * hidden * inter)...], inter)
                for c in 0..<hidden { acc[c] = bf(acc[c] + bf(y[c] * w)) }
            }
            if let sharedGateUp, let sharedDown {
                let s = swiglu(xr, sharedGateUp[...], sharedDown[...], sharedInter)
                for c in 0..<hidden { acc[c] = bf(acc[c] + s[c]) }
            }
            out += acc
        }
        return out
    }

    /// The MoE block's output on the device, checked against `reference`. `staged`: the grouped expert kernels that
    /// stream their weights through shared memory (`ERNIE_CUDA_MOE_STAGED`, on by default for steps of at most 16
    /// tokens); `warpgroupMinTokens`: from how many tokens the warpgroup expert kernels run (0 here unless a test asks,
    /// so the other tests keep testing the mma.sync kernels; nil: the default); `sharedInter` defaults to two chunks of
    /// the expert width (a width that is no multiple of it runs as one chunk of its own width).
    @discardableResult
    func run(
        tokens: Int, hidden: Int, experts: Int, topK: Int, inter: Int, shared: Bool, withBias: Bool,
        groupedMaxTokens: Int? = nil, batched: Bool = true, staged: Bool = true, sharedInter sharedWidth: Int? = nil,
        tiles: TokenTiles = .default, held: Range<Int>? = nil, prepareGEMMs: Bool = true, routingOverlap: Bool = true,
        expertStreams: Int = PerfOptions().moeExpertStreams, routerGEMM: Bool = true, warpgroupMinTokens: Int? = 0,
        inspect: (CUDABackend) -> Void = { _ in }
    ) throws -> [Float] {
        let backend = try TestDevice.backend(maxTokens: max(512, tokens)) { perf in
            perf.gemmPrepare = prepareGEMMs
            perf.routingOverlap = routingOverlap
            perf.moeExpertStreams = expertStreams
            perf.moeExpertStreamsMinTokens = 0
            perf.routerGEMM = routerGEMM
            if let groupedMaxTokens { perf.groupedMoEMaxTokens = groupedMaxTokens }
            perf.batchedMoE = batched
            perf.stagedMoE = staged
            perf.moeNT1MaxTokens = tiles.nt1MaxTokens
            perf.moeNT2MaxTokens = tiles.nt2MaxTokens
            if let warpgroupMinTokens { perf.moeWarpgroupMinTokens = warpgroupMinTokens }
        }
        try backend.allocateKVCache(
            KVCacheLayout(numPages: max(4, tokens / 16 + 2), pageSize: 16, numLayers: 1, numKVHeads: 1, headDim: 64))
        let sharedInter = shared ? sharedWidth ?? 2 * inter : 0
        let x = TestData.values(tokens * hidden, seed: 11)
        let router = TestData.values(experts * hidden, seed: 12, scale: 0.2).map { $0 * 1.0001 }  // not bf16-exact
        let bias = withBias ? TestData.values(experts, seed: 13, scale: 0.05) : [Float](repeating: 0, count: experts)
        let gateUp = TestData.values(experts * 2 * inter * hidden, seed: 14, scale: 0.2)
        let down = TestData.values(experts * hidden * inter, seed: 15, scale: 0.2)
        let local = held ?? 0..<experts  // the experts whose weights this device gets
        let sgu = shared ? TestData.values(2 * sharedInter * hidden, seed: 16, scale: 0.2) : nil
        let sdn = shared ? TestData.values(hidden * sharedInter, seed: 17, scale: 0.2) : nil
        let weights = MoEWeights<CUDAWeight>(
            router: try backend.makeWeight(
                TestData.tensor("router", [experts, hidden], router, dtype: .float32),
                precision: .float32),
            correctionBias: withBias
                ? try backend.makeWeight(
                    TestData.tensor("bias", [1, experts], bias, dtype: .float32), precision: .float32)
                : nil,
            expertsGateUp: try backend.makeWeight(
                concatenatingRows: local.map { e in
                    TestData.tensor(
                        "gu\(e)", [2 * inter, hidden],
                        Array(gateUp[(e * 2 * inter * hidden)..<((e + 1) * 2 * inter * hidden)]))
                }, precision: .standard),
            expertsDown: try backend.makeWeight(
                TestData.tensor(
                    "down", [local.count * hidden, inter],
                    Array(down[(local.lowerBound * hidden * inter)..<(local.upperBound * hidden * inter)])),
                precision: .standard),
            shared: shared
                ? MLPWeights(
                    gateUp: Linear(
                        weight: try backend.makeWeight(
                            TestData.tensor("sgu", [2 * sharedInter, hidden], sgu!), precision: .standard)),
                    down: Linear(
                        weight: try backend.makeWeight(
                            TestData.tensor("sdn", [hidden, sharedInter], sdn!), precision: .standard)))
                : nil
        )
        let table = try backend.makeWeight(TestData.tensor("x", [tokens, hidden], x), precision: .standard)
        let shape = MoEShape(
            numExperts: experts, topK: topK, intermediateSize: inter, sharedIntermediateSize: sharedInter,
            normMin: 1e-12, expertRange: held)
        try backend.prepareMoE(shape, hidden: hidden)  // as a model load does
        try backend.beginStep(identityBatch(tokens))
        let input = try backend.embed(table)
        let out = try backend.toHost(try backend.moe(input, weights: weights, shape: shape))
        try backend.endStep()
        inspect(backend)
        let expected = Self.reference(
            x: x, tokens: tokens, hidden: hidden, experts: experts, topK: topK, inter: inter, router: router,
            bias: bias, gateUp: gateUp, down: down, sharedGateUp: sgu, sharedDown: sdn, sharedInter: sharedInter,
            held: held
        )
        let error = normalizedError(out, expected)
        let kernels = (staged ? " staged" : "") + (held.map { " experts \($0)" } ?? "")
            + (warpgroupMinTokens.map { $0 > 0 ? " wgmma from \($0)" : "" } ?? " default kernels")
        #expect(
            error < 2e-2, "MoE T\(tokens) H\(hidden) E\(experts) k\(topK) I\(inter)\(kernels): normalized error \(error)")
        return out
    }

    /// Both expert-kernel families (weights through registers / through the shared-memory ring).
    static let kernelFamilies = [false, true]

    /// Which steps take 8 (NT 1) or 16 (NT 2) tokens of a slot per pass (`ERNIE_CUDA_MOE_NT{1,2}_MAX_TOKENS`): the
    /// default (≤ 16 / ≤ 64 tokens), rounds 1–6's (≤ 8 / ≤ 16, 32 tokens per pass above), and NT 1 up to 64 tokens.
    struct TokenTiles: Sendable {
        var nt1MaxTokens: Int
        var nt2MaxTokens: Int
        static let `default` = TokenTiles(nt1MaxTokens: 16, nt2MaxTokens: 64)
        static let roundSix = TokenTiles(nt1MaxTokens: 8, nt2MaxTokens: 16)
        static let oneTile = TokenTiles(nt1MaxTokens: 64, nt2MaxTokens: 64)
        static let both = [TokenTiles.default, .roundSix]
    }

    @Test(arguments: kernelFamilies) func routedExpertsWithSharedExpertAndCorrectionBias(staged: Bool) throws {
        try run(tokens: 7, hidden: 64, experts: 8, topK: 3, inter: 16, shared: true, withBias: true, staged: staged)
    }

    @Test(arguments: kernelFamilies) func routedExpertsOnlyManyTokens(staged: Bool) throws {
        for tiles in TokenTiles.both {
            try run(
                tokens: 40, hidden: 32, experts: 16, topK: 4, inter: 24, shared: false, withBias: false, staged: staged,
                tiles: tiles)
        }
    }

    /// One token (decode at batch 1), five tokens, and 12 tokens (two n-tiles with rounds 1–6's tiles: the nt2
    /// kernels; two passes of nt1 by default), each through both kernel families; K of 8 chunks over 2 warps (4 chunks per warp: the staged kernels request a shared chunk's
    /// first ring stages before the programmatic wait) and a down K of 4 chunks for one warp.
    @Test(arguments: kernelFamilies) func decodeSizedStepsOneFiveAndTwelveTokens(staged: Bool) throws {
        for tokens in [1, 5, 12] {
            for tiles in TokenTiles.both {
                try run(
                    tokens: tokens, hidden: 256, experts: 8, topK: 2, inter: 128, shared: true, withBias: true,
                    staged: staged, tiles: tiles)
            }
        }
    }

    /// A shared expert whose width is no multiple of the expert width: one chunk of 264 columns (9 K chunks of the
    /// down matrix over 4 warps) beside routed experts of 136 (5 chunks; their tiles past 136 rows are skipped by the
    /// gate|up kernel), so a warp's chunk count differs between items and the staged ring's feed crosses items and
    /// token groups within its depth (17 tokens: nt2 by default, nt4 with rounds 1–6's tiles).
    @Test(arguments: kernelFamilies) func sharedChunkWiderThanTheExperts(staged: Bool) throws {
        for tokens in [3, 17] {
            for tiles in TokenTiles.both {
                try run(
                    tokens: tokens, hidden: 64, experts: 6, topK: 2, inter: 136, shared: true, withBias: false,
                    staged: staged, sharedInter: 264, tiles: tiles)
            }
        }
    }

    /// K of 16 units of 64 columns over 8 warps (2 per warp, as deep as the staged rings): the staged kernels fill a
    /// shared-chunk item's first stages before the programmatic wait (gate|up over H = 1024, down over the shared
    /// chunk's 1024 columns); routed experts of width 72 leave 5 of the down kernel's 8 warps without a chunk, and all
    /// but 5 of the gate|up kernel's 64 row tiles per expert empty.
    @Test(arguments: kernelFamilies) func wideKFillsTheRingBeforeTheWait(staged: Bool) throws {
        for tokens in [1, 9] {
            for tiles in TokenTiles.both {
                try run(
                    tokens: tokens, hidden: 1024, experts: 4, topK: 2, inter: 72, shared: true, withBias: true,
                    staged: staged, sharedInter: 1024, tiles: tiles)
            }
        }
    }

    /// The warpgroup expert kernels (`Kernels/moe_wgmma.cu`) at every pass width: 1 and 5 tokens (N 8), 12 (N 16),
    /// 40 (N 64 for the shared chunks, 32 / 16 for the routed experts), 70 (the shared chunk in two passes, 64 + 6),
    /// 150 (three passes, the last of 22); a K (H = 136) that is no multiple of the 64-column unit, routed experts of
    /// 72 rows (their second 64-row tile partly past the width) beside a shared chunk of 200 (a different K for the
    /// down kernel's items), correction bias; the same on a device holding 3 of the 8 experts (--ep-size); and a
    /// 20-token step with the default switches.
    @Test func warpgroupExpertKernels() throws {
        for tokens in [1, 5, 12, 40, 70, 150] {
            try run(
                tokens: tokens, hidden: 136, experts: 8, topK: 3, inter: 72, shared: true, withBias: true,
                sharedInter: 200, warpgroupMinTokens: 1)
        }
        try run(
            tokens: 12, hidden: 256, experts: 8, topK: 2, inter: 128, shared: true, withBias: true,
            warpgroupMinTokens: 1)
        try run(
            tokens: 70, hidden: 64, experts: 8, topK: 3, inter: 32, shared: true, withBias: true, held: 2..<5,
            warpgroupMinTokens: 1)
        // The defaults (wgmma from 16 tokens where the kernels exist).
        try run(
            tokens: 20, hidden: 64, experts: 8, topK: 3, inter: 32, shared: true, withBias: true,
            warpgroupMinTokens: nil)
    }

    /// A 300-token step through the grouped kernels (opt-in above 256 tokens: `ERNIE_CUDA_MOE_GROUPED_MAX_TOKENS`) and
    /// through the host-grouped path with the tiled router (the default there) — its experts as one strided-batched
    /// GEMM per direction over padded rows (≈ 112 of ≤ 150 rows per expert are real), and as one GEMM per expert —,
    /// each against the reference.
    @Test func prefillSizedStepGroupedOnTheDeviceOrOnTheHost() throws {
        for staged in Self.kernelFamilies {
            try run(
                tokens: 300, hidden: 64, experts: 8, topK: 3, inter: 32, shared: true, withBias: true,
                groupedMaxTokens: 1000, staged: staged)
        }
        try run(tokens: 300, hidden: 64, experts: 8, topK: 3, inter: 32, shared: true, withBias: true)
        try run(tokens: 300, hidden: 64, experts: 8, topK: 3, inter: 32, shared: true, withBias: true, batched: false)
        // The shared expert queued before the ids' copy to the host (the order before the overlap).
        try run(
            tokens: 300, hidden: 64, experts: 8, topK: 3, inter: 32, shared: true, withBias: true, batched: false,
            routingOverlap: false)
        // Router logits from the 64 × 64-tiled FP32 kernel instead of the GEMM over the router's bf16 parts.
        try run(
            tokens: 300, hidden: 64, experts: 8, topK: 3, inter: 32, shared: true, withBias: true, batched: false,
            routerGEMM: false)
    }

    /// The per-expert GEMMs of a host-grouped step spread over side streams (`ERNIE_CUDA_MOE_EXPERT_STREAMS`: 3 lanes
    /// for 8 experts) and all on the backend's stream: both against the reference; the side streams are made only
    /// when asked for, and destroyed when the step ends.
    @Test func hostGroupedExpertGEMMsOnSideStreams() throws {
        for streams in [3, 1] {
            try run(
                tokens: 300, hidden: 64, experts: 8, topK: 3, inter: 32, shared: true, withBias: true, batched: false,
                expertStreams: streams
            ) { backend in
                #expect((backend.expertStreams?.count ?? 1) == streams)
                #expect(backend.expertStreams?.lanes.isEmpty ?? true)  // released at the step's end
            }
        }
    }

    /// A large step's routing (`routeRows`): the router's logits from the bf16 GEMM over its three bf16 parts, and
    /// from the 64 × 64-tiled FP32 kernel, each against top-k in fp64 on the host for 2,048 tokens over ERNIE's 64
    /// experts, top-6 — the same experts for every token whose k-th and (k + 1)-th scores are more than 1e-6 apart
    /// (FP32 logits give ≈ 1e-8 here; the router's bf16 part alone ≈ 1e-5, and fails this), weights
    /// within a bf16 ulp.
    @Test(arguments: [true, false]) func largeStepRoutingMatchesFP64TopK(routerGEMM: Bool) throws {
        let tokens = 2048, hidden = 256, experts = 64, topK = 6
        let backend = try TestDevice.backend(maxTokens: tokens) { $0.routerGEMM = routerGEMM }
        try backend.allocateKVCache(
            KVCacheLayout(numPages: tokens / 16 + 2, pageSize: 16, numLayers: 1, numKVHeads: 1, headDim: 64))
        let x = TestData.values(tokens * hidden, seed: 21).map(bf)
        let router = TestData.values(experts * hidden, seed: 22, scale: 0.5).map { $0 * 1.0001 }
        let bias = TestData.values(experts, seed: 23, scale: 0.02)
        let weights = MoEWeights<CUDAWeight>(
            router: try backend.makeWeight(
                TestData.tensor("router", [experts, hidden], router, dtype: .float32), precision: .float32),
            correctionBias: try backend.makeWeight(
                TestData.tensor("bias", [1, experts], bias, dtype: .float32), precision: .float32),
            expertsGateUp: try backend.makeWeight(
                TestData.tensor("gu", [experts * 2 * 8, hidden], [Float](repeating: 0, count: experts * 16 * hidden)),
                precision: .standard),
            expertsDown: try backend.makeWeight(
                TestData.tensor("down", [experts * hidden, 8], [Float](repeating: 0, count: experts * hidden * 8)),
                precision: .standard),
            shared: nil)
        let shape = MoEShape(
            numExperts: experts, topK: topK, intermediateSize: 8, sharedIntermediateSize: 0, normMin: 1e-12)
        try backend.prepareMoE(shape, hidden: hidden)
        let table = try backend.makeWeight(TestData.tensor("x", [tokens, hidden], x), precision: .standard)
        try backend.beginStep(identityBatch(tokens))
        let input = try backend.embed(table)
        let ids = try backend.makeTensor(rows: tokens, columns: topK, .int32, "ids")
        let routeWeights = try backend.makeTensor(rows: tokens, columns: topK, .float32, "weights")
        try backend.routeRows(input, weights: weights, shape: shape, ids: ids, routeWeights: routeWeights)
        let gotIDs = try backend.toHost(ids).map { Int($0) }
        let gotWeights = try backend.toHost(routeWeights)
        try backend.endStep()
        var compared = 0
        for t in 0..<tokens {
            let logits = (0..<experts).map { e in
                (0..<hidden).reduce(0.0) { $0 + Double(x[t * hidden + $1]) * Double(router[e * hidden + $1]) }
            }
            let m = logits.max()!
            let exps = logits.map { Foundation.exp($0 - m) }
            let total = exps.reduce(0, +)
            let p = exps.map { $0 / total }
            let score = (0..<experts).map { p[$0] + Double(bias[$0]) }
            let order = (0..<experts).sorted { score[$0] > score[$1] || (score[$0] == score[$1] && $0 < $1) }
            guard score[order[topK - 1]] - score[order[topK]] > 1e-6 else { continue }
            compared += 1
            // The order among the chosen does not matter (each weight goes with its id); near-ties inside the top k
            // may come out either way.
            let chosen = Array(order.prefix(topK))
            let got = Array(gotIDs[(t * topK)..<((t + 1) * topK)])
            #expect(Set(got) == Set(chosen), "token \(t): \(got) against \(chosen)")
            let sum = chosen.reduce(0.0) { $0 + p[$1] }
            for (j, id) in got.enumerated() where chosen.contains(id) {
                let want = p[id] / sum
                #expect(abs(Double(gotWeights[t * topK + j]) - want) <= want / 128, "token \(t) expert \(id)")
            }
        }
        #expect(compared > tokens * 9 / 10, "tokens with a clear k-th choice: \(compared)")
    }

    /// `prepareMoE` (a model load) asks cuBLASLt's heuristic for every per-expert row count a step can give — 1 ...
    /// 512 (the backend's step size) in both directions — and for every row count of the router's GEMM over its
    /// three bf16 parts, so a host-grouped step's expert and router GEMMs build their plans from those answers without
    /// a query of their own, whatever the prompt's routing; only the shared expert's two projections ask. The emulated
    /// cuBLASLt runs only algorithms asked for the exact row count (`ERNIE_EMU_CUBLASLT_EXACT_ALGOS`), so an answer
    /// filed under the wrong shape fails the GEMM. Off (`ERNIE_CUDA_GEMM_PREPARE=0`), the step asks for each count
    /// itself. Same output either way.
    @Test func hostGroupedExpertGEMMsArePlannedAtLoad() throws {
        try EmulatedAlgorithms.with(exact: true) { try checkHostGroupedPlans() }
    }

    func checkHostGroupedPlans() throws {
        var prepared = (queries: 0, plans: 0, left: 0)
        var onFirstUse = (queries: 0, plans: 0)
        let a = try run(
            tokens: 300, hidden: 64, experts: 8, topK: 3, inter: 32, shared: true, withBias: true, batched: false,
            sharedInter: 96,
            inspect: {
                prepared = ($0.blas.heuristicQueries, $0.blas.cachedPlanCount, $0.blas.preparedAlgorithmCount)
            })
        let b = try run(
            tokens: 300, hidden: 64, experts: 8, topK: 3, inter: 32, shared: true, withBias: true, batched: false,
            sharedInter: 96, prepareGEMMs: false,
            inspect: { onFirstUse = ($0.blas.heuristicQueries, $0.blas.cachedPlanCount) })
        // 3 × 512 answers asked ahead (two expert directions, the router), then only the shared expert's two
        // projections (a width of 96: neither has an expert family's shape); every plan the step made that the shared
        // expert did not came from an answer.
        #expect(prepared.queries == 3 * 512 + 2, "queries with preparation: \(prepared.queries)")
        // Plans: the answers whose kernels were launched once at load (each emulated answer is its own algorithm: the
        // experts' first 128 by rows, then the router's first 32), the step's, and the shared expert's two; the other
        // answers wait for first use.
        #expect(prepared.plans + prepared.left == 3 * 512 + 2)
        #expect(
            prepared.plans >= 128 + 32 + 2 && prepared.plans <= 128 + 32 + 2 * 8 + 1 + 2, "plans: \(prepared.plans)")
        // Without: one query per plan, at most 8 experts × 2 directions, the router and the shared expert's two.
        #expect(onFirstUse.queries == onFirstUse.plans && onFirstUse.plans <= 2 * 8 + 1 + 2)
        #expect(a == b)
    }

    /// The shared chunks see 40 tokens — two token groups of the nt4 expert kernels (rounds 1–6's tiles), three of
    /// nt2 (the default), five of nt1 (NT 1 up to 64 tokens) —, so every slot's weight rows are streamed again for
    /// each further group, and the down kernel's K takes several rounds per warp.
    @Test(arguments: kernelFamilies) func sharedExpertSeveralTokenGroupsSeveralRounds(staged: Bool) throws {
        for tiles in [TokenTiles.default, .roundSix, .oneTile] {
            try run(
                tokens: 40, hidden: 128, experts: 4, topK: 2, inter: 96, shared: true, withBias: true, staged: staged,
                tiles: tiles)
        }
    }

    /// Expert parallelism (`--ep-size`): the device holds experts 2 ..< 5 of 8 (weights stacked for those only), routes
    /// over all 8, and adds only its own experts' share (plus the shared expert) — a decode-sized step on the grouped
    /// kernels of both families, a 300-token step grouped on the host, and a small step with the grouped path off
    /// (which would otherwise take the small-batch kernels that index the weights by the router's ids).
    @Test(arguments: kernelFamilies) func expertParallelRankAddsOnlyItsExperts(staged: Bool) throws {
        for held in [2..<5, 0..<1, 7..<8] {
            try run(
                tokens: 7, hidden: 64, experts: 8, topK: 3, inter: 16, shared: true, withBias: true, staged: staged,
                held: held)
            try run(
                tokens: 20, hidden: 64, experts: 8, topK: 3, inter: 16, shared: false, withBias: true, staged: staged,
                held: held)
        }
        try run(
            tokens: 300, hidden: 64, experts: 8, topK: 3, inter: 32, shared: true, withBias: true, staged: staged,
            held: 3..<7)
        try run(
            tokens: 5, hidden: 64, experts: 8, topK: 3, inter: 16, shared: true, withBias: true, groupedMaxTokens: 0,
            staged: staged, held: 2..<5)
        // One token whose three choices may all be elsewhere: the step then has no pair here (grouped on the device
        // or on the host).
        for held in [0..<1, 7..<8] {
            for groupedMaxTokens in [256, 0] {
                try run(
                    tokens: 1, hidden: 64, experts: 8, topK: 3, inter: 16, shared: true, withBias: true,
                    groupedMaxTokens: groupedMaxTokens, staged: staged, held: held)
            }
        }
    }
}
