import ErnieCPU
import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

/// One way of splitting a fixture model.
struct ParallelCase: Sendable, CustomTestStringConvertible {
    var model: String
    var tp: Int
    var ep: Int = 1

    var testDescription: String { "\(model) tp\(tp)" + (ep > 1 ? " ep\(ep)" : "") }
}

/// Tensor and expert parallelism on the CPU (rank threads and the CPU communicator) against transformers and
/// against the same model on one device.
///
/// Tolerances: against transformers' float32 fixtures the same bound as the single-device parity tests (1e-3);
/// against one device 2e-5 absolute (10× the largest difference measured) on every log-probability. The split changes only the order of float32
/// additions (row-parallel partial sums added by the all-reduce, experts of several ranks summed there), which
/// moves a log-probability by ~1e-6 on these models; greedy tokens must be identical.
@Suite(.timeLimit(.minutes(10))) struct TensorParallelTests {
    static let singleDeviceTolerance: Float = 2e-5
    static let transformersTolerance: Float = 1e-3

    static let cases: [ParallelCase] = [
        ParallelCase(model: "dense-f32", tp: 2), ParallelCase(model: "dense-f32", tp: 4),
        ParallelCase(model: "dense-hub-bf16-sharded", tp: 2),
        ParallelCase(model: "moe-fused-bf16-sharded", tp: 2), ParallelCase(model: "moe-fused-bf16-sharded", tp: 4),
        ParallelCase(model: "moe-fused-bf16-sharded", tp: 2, ep: 2),
        ParallelCase(model: "moe-fused-bf16-sharded", tp: 4, ep: 2),
        ParallelCase(model: "moe-fused-bf16-sharded", tp: 4, ep: 4),
        ParallelCase(model: "moe-hub-f32", tp: 2), ParallelCase(model: "moe-hub-f32", tp: 4),
        ParallelCase(model: "moe-hub-f32", tp: 2, ep: 2), ParallelCase(model: "moe-hub-f32", tp: 4, ep: 2),
    ]

    static func parallel(_ c: ParallelCase, pages: Int = 64) throws -> TensorParallelExecutor {
        try CPUTensorParallel.executor(
            directory: ModelFixtures.directory(c.model), tpSize: c.tp, epSize: c.ep, kvPages: pages, pageSize: 16)
    }

    @Test(arguments: cases)
    func promptLogprobsMatchOneDeviceAndTransformers(_ c: ParallelCase) throws {
        let reference = try ModelFixtures.reference(c.model)
        let single = SequentialGenerator(executor: try ModelFixtures.executor(c.model))
        let split = SequentialGenerator(executor: try Self.parallel(c))
        var worstSingle: Float = 0
        var worstTransformers: Float = 0
        for (prompt, expected) in zip(reference.prompts, reference.promptLogprobs) {
            let one = try single.promptLogprobs(prompt)
            let got = try split.promptLogprobs(prompt, chunkSize: 7)
            #expect(got.count == expected.count)
            #expect(got.allSatisfy { $0.isFinite })
            worstSingle = max(worstSingle, ModelFixtures.maxAbsDifference(got, one))
            worstTransformers = max(worstTransformers, ModelFixtures.maxAbsDifference(got, expected))
        }
        print("[\(c.testDescription)] max |Δ logprob| vs one device \(worstSingle), vs transformers \(worstTransformers)")
        #expect(worstSingle <= Self.singleDeviceTolerance)
        #expect(worstTransformers < Self.transformersTolerance)
    }

    @Test(arguments: cases)
    func greedyTokensEqualOneDeviceAndTransformers(_ c: ParallelCase) throws {
        let reference = try ModelFixtures.reference(c.model)
        let single = SequentialGenerator(executor: try ModelFixtures.executor(c.model))
        let split = SequentialGenerator(executor: try Self.parallel(c))
        for (prompt, expected) in zip(reference.prompts, reference.greedy) {
            let one = try single.generate(prompt: prompt, sampling: .greedy, maxNewTokens: expected.count)
            let got = try split.generate(prompt: prompt, sampling: .greedy, maxNewTokens: expected.count)
            #expect(got.tokens == expected, "prompt of \(prompt.count) tokens")
            #expect(got.tokens == one.tokens)
            #expect(ModelFixtures.maxAbsDifference(got.logprobs, one.logprobs) <= Self.singleDeviceTolerance)
        }
    }

    /// A batch mixing a prefill chunk and decodes over out-of-order pages, with top log-probabilities and a seeded
    /// sample: every row equals the single device's.
    @Test func mixedBatchWithTopLogprobsAndSamplingEqualsOneDevice() throws {
        let c = ParallelCase(model: "moe-hub-f32", tp: 4, ep: 2)
        let single = try ModelFixtures.executor(c.model, pages: 8, pageSize: 4)
        let split = try CPUTensorParallel.executor(
            directory: ModelFixtures.directory(c.model), tpSize: c.tp, epSize: c.ep, kvPages: 8, pageSize: 4)
        #expect(split.kvLayout.numPages == 8)
        #expect(split.rankLayouts.map(\.numKVHeads) == [1, 1, 1, 1])
        let first = ForwardBatch(
            tokens: [5, 9, 33, 7, 100, 2, 17],
            sequences: [
                .init(tokenOffset: 0, tokenCount: 5, startPosition: 0, pages: [6, 2]),
                .init(tokenOffset: 5, tokenCount: 2, startPosition: 0, pages: [3]),
            ], pageSize: 4)
        let second = ForwardBatch(
            tokens: [41, 12, 250, 8],
            sequences: [
                .init(tokenOffset: 0, tokenCount: 1, startPosition: 5, pages: [6, 2]),
                .init(tokenOffset: 1, tokenCount: 3, startPosition: 2, pages: [3, 0]),
            ], pageSize: 4)
        let sampling = SamplingParams(temperature: 0.8, topP: 0.9, topK: 20, seed: 7)
        let requests1 = [
            LogitsRequest(tokenIndex: 4, sampling: .greedy, topLogprobs: 5, vocabLimit: 300),
            LogitsRequest(tokenIndex: 1, sampling: nil, targetToken: 33, vocabLimit: 300),
            LogitsRequest(tokenIndex: 6, sampling: sampling, randomCounter: 3, topLogprobs: 3, vocabLimit: 300),
        ]
        let requests2 = [
            LogitsRequest(tokenIndex: 0, sampling: sampling, randomCounter: 4, topLogprobs: 2, vocabLimit: 290),
            LogitsRequest(tokenIndex: 3, sampling: .greedy, topLogprobs: 4, vocabLimit: 300),
        ]
        for (batch, requests) in [(first, requests1), (second, requests2)] {
            let a = try single.execute(batch, logits: requests)
            let b = try split.execute(batch, logits: requests)
            #expect(a.count == b.count)
            for (x, y) in zip(a, b) {
                #expect(x.token == y.token)
                #expect(abs(x.logprob - y.logprob) <= Self.singleDeviceTolerance)
                #expect(x.top.map(\.token) == y.top.map(\.token))
                #expect(ModelFixtures.maxAbsDifference(x.top.map(\.logprob), y.top.map(\.logprob))
                    <= Self.singleDeviceTolerance)
                if let t = x.targetLogprob {
                    #expect(abs(t - (y.targetLogprob ?? .nan)) <= Self.singleDeviceTolerance)
                }
            }
        }
    }

    /// Dummy weights: a rank's shard holds the same numbers as that slice of the whole model's dummy weights (some
    /// shards come from the backend's generator with an advanced seed, others from the host), so a split dummy
    /// model computes the same function as the whole one.
    @Test(arguments: [(2, 1), (4, 1), (4, 2), (4, 4)])
    func dummyShardsAreSlicesOfTheWholeDummyModel(tp: Int, ep: Int) throws {
        let dir = try TemporaryDirectory()
        try dir.write("config.json", Data(Self.dummyConfig.utf8))
        let config = try ModelConfig(contentsOf: dir.path)
        let backend = CPUBackend()
        let whole = try ErnieForward(
            config: config, weights: try WeightLoader.dummy(config: config, backend: backend, seed: 9, scale: 0.2),
            backend: backend, kvPages: 4, pageSize: 16)
        // Scale 0.2 (not the default 0.02) so the logits are far from uniform and a wrong slice would show.
        let group = CPUCommunicatorGroup(worldSize: tp)
        let split = try TensorParallelExecutor(worldSize: tp) { setup in
            let layout = try ParallelLayout(config: config, rank: setup.rank, tpSize: tp, epSize: ep)
            let backend = CPUBackend()
            let weights = try WeightLoader.dummy(config: config, backend: backend, seed: 9, scale: 0.2, layout: layout)
            return try ErnieForward(
                config: config, weights: weights, backend: backend, kvPages: 4, pageSize: 16,
                parallel: TensorParallelRank(layout: layout, communicator: try group.communicator(rank: setup.rank)))
        }
        let prompt: [Int32] = [1, 5, 9, 33, 7, 150, 2, 64, 64, 3]
        let a = try SequentialGenerator(executor: whole).promptLogprobs(prompt)
        let b = try SequentialGenerator(executor: split).promptLogprobs(prompt)
        #expect(ModelFixtures.maxAbsDifference(a, b) <= Self.singleDeviceTolerance)
        let spread = (a.max() ?? 0) - (a.min() ?? 0)
        #expect(spread > 0.5, "the dummy model's log-probabilities should not be nearly uniform")
        let ga = try SequentialGenerator(executor: whole).generate(prompt: prompt, sampling: .greedy, maxNewTokens: 8)
        let gb = try SequentialGenerator(executor: split).generate(prompt: prompt, sampling: .greedy, maxNewTokens: 8)
        #expect(ga.tokens == gb.tokens)
    }

    /// Biases everywhere (q|k|v, o, gate|up, down, LM head), 4 query / 2 KV heads, a dense layer and MoE layers with
    /// shared experts, a vocabulary that does not split evenly over 4 ranks.
    static let dummyConfig = """
        {"architectures": ["Ernie4_5_MoeForCausalLM"], "hidden_size": 32, "intermediate_size": 48,
         "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
         "vocab_size": 203, "use_bias": true, "tie_word_embeddings": false,
         "moe_num_experts": 4, "moe_k": 2, "moe_intermediate_size": 8, "moe_num_shared_experts": 1}
        """
}
