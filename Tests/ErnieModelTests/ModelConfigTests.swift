import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

@Suite struct ModelConfigTests {
    static func decode(_ object: [String: Any]) throws -> ModelConfig {
        try ModelConfig(json: JSONSerialization.data(withJSONObject: object), source: "test/config.json")
    }

    // MARK: The released models (values from shared/reference/ernie45-architecture.md §1)

    @Test func ernie03BDecodesToTheDocumentedNumbers() throws {
        let c = try ModelConfig(contentsOf: Fixtures.checkout + "/models/configs/ERNIE-4.5-0.3B-PT")
        #expect(c.architecture == .dense)
        #expect(c.hiddenSize == 1024 && c.intermediateSize == 3072 && c.numHiddenLayers == 18)
        #expect(c.numAttentionHeads == 16 && c.numKeyValueHeads == 2 && c.headDim == 128)
        #expect(c.vocabSize == 103_424 && c.maxPositionEmbeddings == 131_072)
        #expect(c.ropeTheta == 500_000 && c.rmsNormEps == 1e-5)
        #expect(!c.useBias && c.tieWordEmbeddings && c.moe == nil)
        #expect(c.bosTokenID == 1 && c.eosTokenIDs == [2] && c.padTokenID == 0)
        #expect(c.kvBytesPerTokenPerLayer(bytesPerElement: 2) * c.numHiddenLayers == 18 * 1024)
    }

    @Test func ernie21BDecodesToTheDocumentedNumbers() throws {
        let c = try ModelConfig(contentsOf: Fixtures.checkout + "/models/configs/ERNIE-4.5-21B-A3B-PT")
        #expect(c.architecture == .moe)
        #expect(c.hiddenSize == 2560 && c.intermediateSize == 12288 && c.numHiddenLayers == 28)
        #expect(c.numAttentionHeads == 20 && c.numKeyValueHeads == 4 && c.headDim == 128)
        #expect(c.vocabSize == 103_424 && c.ropeTheta == 500_000 && c.tieWordEmbeddings)
        let moe = try #require(c.moe)
        #expect(moe.numExperts == 64 && moe.topK == 6 && moe.intermediateSize == 1536 && moe.numSharedExperts == 2)
        #expect(moe.normMin == 1e-12)
        #expect((0..<28).filter(c.isMoELayer) == Array(1...27))
        #expect(c.kvBytesPerTokenPerLayer(bytesPerElement: 2) * c.numHiddenLayers == 56 * 1024)
        // The HF API record of ERNIE-4.5-21B-A3B-Thinking reports exactly these safetensors parameter counts.
        let counts = WeightLoader.parameterCounts(config: c)
        #expect(counts.standard == 21_821_012_480)
        #expect(counts.float32 == 4_425_408)
    }

    @Test func ernie300BDecodesToTheDocumentedNumbers() throws {
        let c = try ModelConfig(contentsOf: Fixtures.checkout + "/models/configs/ERNIE-4.5-300B-A47B-PT")
        #expect(c.architecture == .moe)
        #expect(c.hiddenSize == 8192 && c.intermediateSize == 28672 && c.numHiddenLayers == 54)
        #expect(c.numAttentionHeads == 64 && c.numKeyValueHeads == 8 && c.headDim == 128)
        let moe = try #require(c.moe)
        #expect(moe.numExperts == 64 && moe.topK == 8 && moe.intermediateSize == 3584 && moe.numSharedExperts == 0)
        #expect((0..<54).filter(c.isMoELayer) == Array(3...53))
        #expect(c.kvBytesPerTokenPerLayer(bytesPerElement: 2) * c.numHiddenLayers == 216 * 1024)
        // ≈ 299.5B untied (reference §1.1: experts 287.49B + dense 2.11B + attention 8.15B + 2 × 0.85B embeddings).
        let total = Double(WeightLoader.parameterCounts(config: c).total)
        #expect(abs(total - 299.5e9) < 0.1e9)
    }

    // MARK: Edge cases against transformers (Tests/Fixtures/models/config-cases.json)

    struct Case: Decodable {
        struct View: Decodable {
            var architecture: String
            var headDim: Int
            var numKeyValueHeads: Int
            var ropeTheta: Double
            var rmsNormEps: Double
            var maxPositionEmbeddings: Int
            var useBias: Bool
            var tieWordEmbeddings: Bool
            var bosTokenId: Int?
            var padTokenId: Int?
            var eosTokenId: [Int]
            var moeLayers: [Int]
            var moeNumExperts: Int?
            var moeK: Int?
            var moeNumSharedExperts: Int?
            var moeNormMin: Double?
        }

        var name: String
        var transformers: View
    }

    static func cases() throws -> [(name: String, config: Data, view: Case.View)] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("models/config-cases.json")))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let parsed = try decoder.decode([Case].self, from: data)
        let raw = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return try zip(parsed, raw).map { parsed, raw in
            let config = try #require(raw["config"])
            return (parsed.name, try JSONSerialization.data(withJSONObject: config), parsed.transformers)
        }
    }

    @Test func edgeCasesReadAsTransformersReadsThem() throws {
        let cases = try Self.cases()
        #expect(cases.count >= 15)
        for (name, data, view) in cases {
            let c = try ModelConfig(json: data, source: name)
            #expect(c.architecture == (view.architecture == "moe" ? .moe : .dense), "\(name)")
            #expect(c.headDim == view.headDim, "\(name)")
            #expect(c.numKeyValueHeads == view.numKeyValueHeads, "\(name)")
            #expect(c.ropeTheta == view.ropeTheta, "\(name)")
            #expect(c.rmsNormEps == Float(view.rmsNormEps), "\(name)")
            #expect(c.maxPositionEmbeddings == view.maxPositionEmbeddings, "\(name)")
            #expect(c.useBias == view.useBias && c.tieWordEmbeddings == view.tieWordEmbeddings, "\(name)")
            #expect(c.bosTokenID == view.bosTokenId && c.padTokenID == view.padTokenId, "\(name)")
            #expect(c.eosTokenIDs == view.eosTokenId, "\(name)")
            #expect((0..<c.numHiddenLayers).filter(c.isMoELayer) == view.moeLayers, "\(name)")
            #expect(c.moe?.numExperts == view.moeNumExperts && c.moe?.topK == view.moeK, "\(name)")
            #expect(c.moe?.numSharedExperts == view.moeNumSharedExperts, "\(name)")
            #expect(c.moe.map { Double($0.normMin) } == view.moeNormMin.map { Double(Float($0)) }, "\(name)")
        }
    }

    // MARK: Errors

    static var base: [String: Any] { [
        "architectures": ["Ernie4_5_MoeForCausalLM"], "hidden_size": 64, "intermediate_size": 96,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128,
        "moe_num_experts": 4, "moe_k": 2, "moe_intermediate_size": 16,
    ] }

    static func modified(_ change: (inout [String: Any]) -> Void) -> [String: Any] {
        var object = base
        change(&object)
        return object
    }

    @Test func baseErrorCaseIsValid() throws {
        _ = try Self.decode(Self.base)
    }

    @Test(arguments: ["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "vocab_size",
                      "moe_k", "moe_num_experts", "moe_intermediate_size", "intermediate_size"])
    func missingRequiredFieldIsNamed(key: String) {
        #expect(throws: ModelError.missingField(file: "test/config.json", key: key)) {
            try Self.decode(Self.modified { $0.removeValue(forKey: key) })
        }
    }

    @Test func unknownArchitectureIsNamed() {
        #expect(throws: ModelError.unsupportedArchitecture(file: "test/config.json", names: ["LlamaForCausalLM"])) {
            try Self.decode(Self.modified { $0["architectures"] = ["LlamaForCausalLM"] })
        }
        #expect(throws: ModelError.unsupportedArchitecture(file: "test/config.json", names: ["llama"])) {
            try Self.decode(Self.modified {
                $0.removeValue(forKey: "architectures")
                $0["model_type"] = "llama"
            })
        }
        #expect(throws: ModelError.missingField(file: "test/config.json", key: "architectures")) {
            try Self.decode(Self.modified { $0.removeValue(forKey: "architectures") })
        }
    }

    @Test func invalidValuesAreNamed() {
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("hidden_size", { $0["hidden_size"] = "64" }),
            ("hidden_size", { $0["hidden_size"] = 0 }),
            ("num_key_value_heads", { $0["num_key_value_heads"] = 3 }),
            ("moe_k", { $0["moe_k"] = 5 }),
            ("hidden_act", { $0["hidden_act"] = "gelu" }),
            ("rope_parameters.rope_type", { $0["rope_parameters"] = ["rope_type": "yarn", "factor": 4.0] }),
            ("model_type", { $0["model_type"] = "ernie4_5" }),
            ("head_dim", { $0["head_dim"] = 15 }),
            ("tie_word_embeddings", { $0["tie_word_embeddings"] = "yes" }),
            ("eos_token_id", { $0["eos_token_id"] = ["</s>"] }),
            ("moe_layer_interval", { $0["moe_layer_interval"] = 0 }),
        ]
        for (key, change) in cases {
            do {
                _ = try Self.decode(Self.modified(change))
                Issue.record("no error for \(key)")
            } catch let ModelError.invalidField(file, field, _) {
                #expect(file == "test/config.json")
                #expect(field == key)
            } catch {
                Issue.record("unexpected error \(error) for \(key)")
            }
        }
    }

    @Test func brokenFilesAreReported() throws {
        #expect(throws: ModelError.self) { try ModelConfig(json: Data("{\"hidden_size\": ".utf8)) }
        #expect(throws: ModelError.self) { try ModelConfig(json: Data("[1, 2]".utf8)) }
        let missing = "/nonexistent-\(UUID().uuidString)"
        #expect(throws: ModelError.unreadableFile(path: missing + "/config.json", reason: "no such file or directory")) {
            try ModelConfig(contentsOf: missing)
        }
    }

    @Test func errorMessagesNameTheFileAndKey() {
        let message = ModelError.missingField(file: "/m/config.json", key: "moe_k").description
        #expect(message.contains("/m/config.json") && message.contains("moe_k"))
    }
}
