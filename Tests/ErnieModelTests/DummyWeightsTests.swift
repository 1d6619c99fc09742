import ErnieCPU
import ErnieModel
import Foundation
import Testing

@Suite struct DummyWeightsTests {
    static let tinyMoE = """
        {"architectures": ["Ernie4_5_MoeForCausalLM"], "hidden_size": 64, "intermediate_size": 96,
         "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 200,
         "moe_num_experts": 4, "moe_k": 2, "moe_intermediate_size": 16, "moe_num_shared_experts": 1}
        """

    static func logprobs(seed: UInt64) throws -> [Float] {
        let config = try ModelConfig(json: Data(tinyMoE.utf8))
        let backend = CPUBackend()
        let weights = try WeightLoader.dummy(config: config, backend: backend, seed: seed)
        let executor = try ErnieForward(config: config, weights: weights, backend: backend, kvPages: 4, pageSize: 16)
        return try SequentialGenerator(executor: executor).promptLogprobs([1, 5, 9, 33, 7, 100, 2])
    }

    @Test func dummyWeightsAreDeterministicPerSeed() throws {
        let a = try Self.logprobs(seed: 1), b = try Self.logprobs(seed: 1), c = try Self.logprobs(seed: 2)
        #expect(a == b)
        #expect(a != c)
        #expect(a.allSatisfy { $0.isFinite })
    }

    @Test func dummyValuesAreSmallAndSpread() {
        let values = (0..<10_000).map { DummyWeights.value(seed: 42, index: UInt64($0), scale: 0.02) }
        #expect(values.allSatisfy { abs($0) < 0.02 })
        let mean = values.reduce(0, +) / Float(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(values.count)
        #expect(abs(mean) < 0.001)
        // Uniform on (-s, s): variance s² / 3.
        #expect(abs(variance - 0.02 * 0.02 / 3) < 0.1 * 0.02 * 0.02 / 3)
        #expect(DummyWeights.seed(for: "a", base: 0) != DummyWeights.seed(for: "b", base: 0))
    }

    @Test func loadFormatDummyNeedsNoCheckpoint() throws {
        let dir = try TemporaryDirectory()
        try dir.write("config.json", Data(Self.tinyMoE.utf8))
        let executor = try ErnieForward.load(directory: dir.path, backend: CPUBackend(), format: .dummy, kvPages: 2,
                                             pageSize: 16)
        let output = try SequentialGenerator(executor: executor).generate(prompt: [1, 2, 3], sampling: .greedy,
                                                                          maxNewTokens: 3)
        #expect(output.tokens.count == 3)
        #expect(throws: ModelError.self) {
            try ErnieForward.load(directory: dir.path, backend: CPUBackend(), format: .safetensors, kvPages: 2,
                                  pageSize: 16)
        }
    }
}
