import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

@testable import ErnieCUDA

@Suite struct HostPlanningTests {
    @Test func launchConfigurationMathAndLimits() throws {
        #expect(LaunchConfiguration.blocks(0, per: 256) == 0)
        #expect(LaunchConfiguration.blocks(1, per: 256) == 1)
        #expect(LaunchConfiguration.blocks(256, per: 256) == 1)
        #expect(LaunchConfiguration.blocks(257, per: 256) == 2)
        let linear = LaunchConfiguration.linear(count: 1000, threads: 128)
        #expect(linear.grid.x == 8 && linear.block.x == 128)
        #expect(LaunchConfiguration(grid: (0, 1, 1), block: (32, 1, 1)).isEmpty)
        try LaunchConfiguration(grid: (Int(Int32.max), 65535, 65535), block: (1024, 1, 1)).validate(kernel: "k")
        #expect(throws: CUDAError.self) {
            try LaunchConfiguration(grid: (1, 65536, 1), block: (32, 1, 1)).validate(kernel: "k")
        }
        #expect(throws: CUDAError.self) {
            try LaunchConfiguration(grid: (1, 1, 1), block: (1025, 1, 1)).validate(kernel: "k")
        }
        #expect(throws: CUDAError.self) {
            try LaunchConfiguration(grid: (1, 1, 1), block: (0, 1, 1)).validate(kernel: "k")
        }
    }

    @Test func kernelArgumentsAreLittleEndianSlots() throws {
        var args = KernelArguments()
        args.pointer(0x1234_5678_9ABC_DEF0)
        args.int32(-2)
        args.float(1.5)
        try args.int(7)
        #expect(args.slots == [0x1234_5678_9ABC_DEF0, 0xFFFF_FFFE, UInt64(Float(1.5).bitPattern), 7])
        #expect(throws: CUDAError.self) { try args.int(1 << 40) }
        args.withParameterArray { params in
            #expect(params[1]!.load(as: Int32.self) == -2)
            #expect(params[2]!.load(as: Float.self) == 1.5)
            #expect(params[0]!.load(as: UInt64.self) == 0x1234_5678_9ABC_DEF0)
        }
    }

    @Test func attentionPlanSplitsOnlyWhenTheGridIsSmall() {
        // Prefill: plenty of blocks, one split covering the longest sequence.
        let prefill = AttentionPlan.make(tokens: 2048, maxKVLength: 2048, blocksPerToken: 4, multiprocessors: 132)
        #expect(prefill == AttentionPlan(splits: 1, splitLength: 2048))
        // Batch-1 decode at 4096 keys: 4 blocks → split into 256-key chunks up to 2 × 132 blocks.
        let decode = AttentionPlan.make(tokens: 1, maxKVLength: 4096, blocksPerToken: 4, multiprocessors: 132)
        #expect(decode.splits == 16 && decode.splitLength == 256)
        // Short context: never more splits than 256-key chunks.
        let short = AttentionPlan.make(tokens: 1, maxKVLength: 100, blocksPerToken: 4, multiprocessors: 132)
        #expect(short == AttentionPlan(splits: 1, splitLength: 100))
        // Every split is non-empty at the longest length and they cover it.
        for tokens in [1, 3, 17, 64] {
            for length in [1, 255, 256, 257, 1000, 33000] {
                let plan = AttentionPlan.make(
                    tokens: tokens, maxKVLength: length, blocksPerToken: 4, multiprocessors: 132)
                #expect(plan.splits * plan.splitLength >= length)
                #expect((plan.splits - 1) * plan.splitLength < length)
                #expect(plan.splits <= 128 && plan.splits * tokens <= max(4096, tokens))
            }
        }
    }

    @Test func attentionKernelPerHeadDim() {
        #expect(CUDABackend.attentionKernel(headDim: 128) == "ernie_attention_w128")
        #expect(CUDABackend.attentionKernel(headDim: 64) == "ernie_attention_w64")
        #expect(CUDABackend.attentionKernel(headDim: 20) == "ernie_attention_w32_masked")
        #expect(CUDABackend.attentionKernel(headDim: 96) == "ernie_attention_w128_masked")
        #expect(CUDABackend.attentionKernel(headDim: 250) == "ernie_attention_w256_masked")
    }

    @Test func activationPoolSizeClasses() {
        #expect(ActivationPool.capacityRows(1) == 16)
        #expect(ActivationPool.capacityRows(16) == 16)
        #expect(ActivationPool.capacityRows(17) == 32)
        #expect(ActivationPool.capacityRows(5000) == 8192)
        #expect(ActivationPool.classBytes(rows: 3, rowBytes: 5120) == 16 * 5120)
        #expect(ActivationPool.classBytes(rows: 1, rowBytes: 3) % 256 == 0)
    }

    @Test func memoryPlannerFollowsMemFractionStatic() throws {
        let gib = 1 << 30
        // 140 GiB device, 44 GiB used by weights: 0.88 × 140 − 44 = 79.2 GiB for the KV cache.
        let plan = try MemoryPlanner.kvPages(
            freeBytes: 96 * gib, totalBytes: 140 * gib, memFractionStatic: 0.88, bytesPerPage: 16 * 57344
        )
        let budget = Int(Double(140 * gib) * 0.88) - 44 * gib
        #expect(plan.pages == budget / (16 * 57344))
        #expect(plan.kvBytes <= budget && plan.kvBytes + plan.bytesPerPage > budget)
        let error = #expect(throws: CUDAError.self) {
            try MemoryPlanner.kvPages(
                freeBytes: 10 * gib, totalBytes: 140 * gib, memFractionStatic: 0.5,
                bytesPerPage: 1 << 20)
        }
        #expect(error?.description.contains("--mem-fraction-static") == true)
        #expect(throws: CUDAError.self) {
            try MemoryPlanner.kvPages(freeBytes: gib, totalBytes: 2 * gib, memFractionStatic: 1.5, bytesPerPage: 1)
        }
    }

    @Test func moePlanGroupsRowsByExpertStably() throws {
        // 3 tokens, top-2, 4 experts.
        let ids: [Int32] = [2, 0, 0, 2, 3, 0]
        let plan = try MoEPlan(topKIds: ids, tokens: 3, topK: 2, experts: 4)
        #expect(plan.offsets == [0, 3, 3, 5, 6])
        #expect(plan.sortedTokens == [0, 1, 2, 0, 1, 2])
        // Choice j of token t lands on a row of its expert, and every row is used once.
        for t in 0..<3 {
            for j in 0..<2 {
                let row = Int(plan.rowOf[t * 2 + j])
                let e = Int(ids[t * 2 + j])
                #expect(row >= plan.offsets[e] && row < plan.offsets[e + 1])
                #expect(plan.sortedTokens[row] == Int32(t))
            }
        }
        #expect(Set(plan.rowOf).count == 6)
        #expect(plan.activeExperts.map(\.expert) == [0, 2, 3])
        #expect(throws: CUDAError.self) { try MoEPlan(topKIds: [5], tokens: 1, topK: 1, experts: 4) }
        #expect(throws: CUDAError.self) { try MoEPlan(topKIds: [0, 1], tokens: 1, topK: 1, experts: 4) }
    }

    @Test func moePlanPaddedLayoutGivesEachExpertTheSameRowCount() throws {
        // 3 tokens, top-2, 4 experts: counts 3, 0, 2, 1 → 8 rows per expert (the largest count rounded up to 8).
        let ids: [Int32] = [2, 0, 0, 2, 3, 0]
        let plan = try MoEPlan(topKIds: ids, tokens: 3, topK: 2, experts: 4)
        #expect(plan.paddedRowsPerExpert == 8)
        #expect(plan.paddedFill == 6.0 / 32.0)
        let padded = plan.padded()
        #expect(padded.rowsPerExpert == 8 && padded.sortedTokens.count == 32)
        // Each pair's padded row is in its expert's block, holds its token, and no two pairs share a row.
        for t in 0..<3 {
            for j in 0..<2 {
                let row = Int(padded.rowOf[t * 2 + j])
                let e = Int(ids[t * 2 + j])
                #expect(row >= e * 8 && row < e * 8 + 3)
                #expect(padded.sortedTokens[row] == Int32(t))
            }
        }
        #expect(Set(padded.rowOf).count == 6)
        // Expert 0's real rows keep the sorted order (tokens 0, 1, 2), padding reads token 0.
        #expect(Array(padded.sortedTokens[0..<8]) == [0, 1, 2, 0, 0, 0, 0, 0])
        // 8192 tokens routed evenly over 64 experts (top-6): every expert 768 rows, nothing padded.
        let even = (0..<(8192 * 6)).map { Int32($0 % 64) }
        let full = try MoEPlan(topKIds: even, tokens: 8192, topK: 6, experts: 64)
        #expect(full.paddedRowsPerExpert == 768 && full.paddedFill == 1.0)
        #expect(full.paddedFill >= MoEPlan.minimumBatchedFill && plan.paddedFill < MoEPlan.minimumBatchedFill)
    }

    /// The per-expert GEMMs' lanes (`ExpertStreams.assign`) against the optimum found by trying every assignment:
    /// longest-first greedy scheduling is within 4/3 − 1/(3m) of the best makespan on m lanes (Graham, 1969), here
    /// with each GEMM's work its rows plus `fixedRows`; every GEMM gets a lane in range, the same answer every time.
    @Test func expertLanesBalanceWithinGrahamsBound() {
        func makespan(_ rows: [Int], _ lane: [Int], _ m: Int) -> Int {
            var load = [Int](repeating: 0, count: m)
            for (i, l) in lane.enumerated() { load[l] += rows[i] + ExpertStreams.fixedRows }
            return load.max()!
        }
        func optimum(_ rows: [Int], _ m: Int) -> Int {
            var best = Int.max
            var lane = [Int](repeating: 0, count: rows.count)
            func place(_ i: Int) {
                if i == rows.count {
                    best = min(best, makespan(rows, lane, m))
                    return
                }
                for l in 0..<m {
                    lane[i] = l
                    place(i + 1)
                }
            }
            place(0)
            return best
        }
        var state: UInt64 = 7
        func next() -> UInt64 {  // SplitMix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        for trial in 0..<60 {
            let m = 2 + trial % 3
            let n = 1 + trial % 8
            // Skewed like dummy routing: most experts a few rows, some thousands.
            let rows = (0..<n).map { _ in next() % 4 == 0 ? Int(next() % 3000) : Int(next() % 9) + 1 }
            let lane = ExpertStreams.assign(rows: rows, lanes: m)
            #expect(lane.count == n && lane.allSatisfy { (0..<m).contains($0) })
            #expect(ExpertStreams.assign(rows: rows, lanes: m) == lane)
            let bound = Double(optimum(rows, m)) * (4.0 / 3.0 - 1.0 / Double(3 * m))
            #expect(Double(makespan(rows, lane, m)) <= bound + 1e-9, "rows \(rows) on \(m) lanes: \(lane)")
        }
        // One lane: everything on it; no more GEMMs than lanes: each its own lane, the longest on lane 0.
        #expect(ExpertStreams.assign(rows: [5, 9, 1], lanes: 1) == [0, 0, 0])
        #expect(ExpertStreams.assign(rows: [5, 900, 1], lanes: 4) == [1, 0, 2])
        #expect(ExpertStreams.assign(rows: [], lanes: 4).isEmpty)
    }

    @Test func samplingBatchPacksRequests() throws {
        let penalties = PenaltyHistory(promptTokens: [5, 9], outputCounts: [9: 2, 11: 1, 12: 0])
        let requests = [
            LogitsRequest(tokenIndex: 0, sampling: nil, targetToken: 3, topLogprobs: 2, vocabLimit: 50),
            LogitsRequest(tokenIndex: 1, sampling: .greedy, vocabLimit: 200),
            LogitsRequest(
                tokenIndex: 2,
                sampling: SamplingParams(
                    temperature: 0.7, topP: 0.9, topK: 20, minP: 0.05, repetitionPenalty: 1.2,
                    frequencyPenalty: 0.5, presencePenalty: 0.1, seed: 42),
                randomCounter: 7, penalties: penalties, bannedTokens: [2], vocabLimit: 100
            ),
        ]
        let batch = try SamplingBatch(requests: requests, vocabulary: 128, topPAfterTopK: false)
        #expect(batch.ints.count == 3 * SamplingBatch.intStride)
        #expect(Array(batch.ints[0..<11]) == [50, 0, 0, 3, 2, 0, 0, 0, 0, 0, -1])
        #expect(Array(batch.ints[11..<22]) == [128, 1, 0, -1, 0, 0, 0, 0, 0, 0, -1])
        #expect(Array(batch.ints[22..<33]) == [100, 2, 20, -1, 0, 0, 3, 0, 1, 0, -1])
        #expect(batch.maskWords.isEmpty)
        #expect(batch.penaltyTokens == [5, 9, 11])
        #expect(batch.penaltyCounts == [0, 2, 1])
        #expect(batch.bannedTokens == [2])
        #expect(Array(batch.floats[12..<18]) == [0.7, 0.9, 0.05, 1.2, 0.5, 0.1])
        #expect(batch.seeds == [0, 0, 0, 0, 42, 7])
        #expect(batch.maxTop == 2)
        #expect(throws: CUDAError.self) {
            try SamplingBatch(
                requests: [LogitsRequest(tokenIndex: 0, sampling: nil, vocabLimit: 0)], vocabulary: 8,
                topPAfterTopK: false)
        }
    }

    @Test func samplingBatchPacksAllowedTokenMasks() throws {
        let requests = [
            // 70 ids: three words; the mask is padded with zero words.
            LogitsRequest(tokenIndex: 0, sampling: .greedy, vocabLimit: 70, allowedTokens: TokenBitmask(words: [5])),
            LogitsRequest(tokenIndex: 1, sampling: .greedy, vocabLimit: 200),
            // Limited by the row width (40 ids, two words); extra words are dropped.
            LogitsRequest(
                tokenIndex: 2, sampling: .greedy, vocabLimit: 100, allowedTokens: TokenBitmask(words: [1, 2, 3, 4])),
            // A score-only row ignores its mask.
            LogitsRequest(tokenIndex: 3, sampling: nil, vocabLimit: 40, allowedTokens: TokenBitmask(words: [1])),
        ]
        let batch = try SamplingBatch(requests: requests, vocabulary: 40, topPAfterTopK: false)
        let stride = SamplingBatch.intStride
        #expect((0..<4).map { batch.ints[$0 * stride + stride - 1] } == [0, -1, 2, -1])
        #expect(batch.maskWords == [5, 0, 1, 2])
    }
}

/// Host conversions against values produced by torch/numpy (Tests/Fixtures/cuda/host_reference.json, written by
/// scripts/gpu/make_fixtures.py).
@Suite struct HostReferenceTests {
    struct Reference: Decodable {
        struct RandomCase: Decodable {
            var seed: String
            var scale: Float
            var indices: [UInt64]
            var float32: [Float]
            var bf16_bits: [UInt16]
        }
        struct Rounding: Decodable {
            var float32: [Float]
            var bf16_bits: [UInt16]
        }
        struct Rope: Decodable {
            var theta: Double
            var head_dim: Int
            var float32: [Float]
        }
        var random_weights: [RandomCase]
        var bf16_rounding: Rounding
        var rope_inv_freq: Rope
    }

    static func load() throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("cuda/host_reference.json")))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    @Test func dummyWeightFormulaMatchesNumpy() throws {
        for c in try Self.load().random_weights {
            let seed = try #require(UInt64(c.seed))
            for (k, index) in c.indices.enumerated() {
                let value = RandomWeights.value(seed: seed, index: index, scale: c.scale)
                #expect(value.bitPattern == c.float32[k].bitPattern, "seed \(seed) index \(index)")
                #expect(HostConversion.bf16Bits(value) == c.bf16_bits[k])
            }
        }
    }

    @Test func bf16RoundingMatchesTorch() throws {
        let rounding = try Self.load().bf16_rounding
        for (value, bits) in zip(rounding.float32, rounding.bf16_bits) {
            #expect(HostConversion.bf16Bits(value) == bits, "\(value)")
        }
        #expect(HostConversion.bf16Bits(.nan) & 0x7FC0 == 0x7FC0)
        #expect(HostConversion.float(bf16: 0x3F80) == 1)
    }

    @Test func ropeInverseFrequenciesMatchTransformers() throws {
        let rope = try Self.load().rope_inv_freq
        let ours = CUDABackend.inverseFrequencies(theta: rope.theta, headDim: rope.head_dim)
        #expect(ours.count == rope.float32.count)
        for (a, b) in zip(ours, rope.float32) {
            #expect(abs(a - b) <= b.ulp, "\(a) vs \(b)")
        }
    }
}
