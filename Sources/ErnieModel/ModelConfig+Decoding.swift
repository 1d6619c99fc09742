import Foundation

extension ModelConfig {
    /// Reads `<directory>/config.json` (or `directory` itself when it names a `.json` file).
    public init(contentsOf directory: String) throws {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory)
        let path = exists && !isDirectory.boolValue ? directory : directory + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError.unreadableFile(path: path, reason: exists ? "no config.json" : "no such file or directory")
        }
        try self.init(json: data, source: path)
    }

    /// Decodes a `config.json` exactly as transformers reads `ernie4_5` and `ernie4_5_moe` configs.
    ///
    /// Fields that define tensor shapes (`hidden_size`, `intermediate_size`, `num_hidden_layers`,
    /// `num_attention_heads`, `num_key_value_heads`, `vocab_size`, and for MoE models `moe_num_experts`, `moe_k`,
    /// `moe_intermediate_size`) are required. The others take transformers' defaults when absent: `head_dim` 128
    /// for `ernie4_5` (the class default) and `hidden_size / num_attention_heads` for `ernie4_5_moe` or when null;
    /// RoPE theta 500000 (from `rope_parameters.rope_theta` or top-level `rope_theta`); `rms_norm_eps` 1e-5;
    /// `max_position_embeddings` 131072; `use_bias` false; `tie_word_embeddings` true; bos/eos/pad 1/2/0;
    /// `moe_num_shared_experts` 2, `moe_layer_start_index` 1, `moe_layer_end_index` -1 (= last layer),
    /// `moe_layer_interval` 1, `moe_norm_min` 1e-12.
    ///
    /// - Parameter source: the file name used in error messages.
    public init(json data: Data, source: String = "config.json") throws {
        let r = try JSONObjectReader(JSONValue.parse(data, file: source), file: source)
        let architecture = try Self.decodeArchitecture(r)

        let hiddenSize = try Self.positive(r, "hidden_size")
        let numHiddenLayers = try Self.positive(r, "num_hidden_layers", max: 4096)
        let numAttentionHeads = try Self.positive(r, "num_attention_heads")
        let numKeyValueHeads: Int
        if r.isNull("num_key_value_heads") {
            numKeyValueHeads = numAttentionHeads
        } else {
            numKeyValueHeads = try Self.positive(r, "num_key_value_heads")
        }
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw ModelError.invalidField(
                file: source, key: "num_key_value_heads",
                reason: "\(numKeyValueHeads) does not divide num_attention_heads = \(numAttentionHeads)"
            )
        }

        let headDim: Int
        if r.has("head_dim") && !r.isNull("head_dim") {
            headDim = try Self.positive(r, "head_dim")
        } else if !r.has("head_dim") && architecture == .dense {
            headDim = 128  // transformers' Ernie4_5Config class default
        } else {
            guard hiddenSize % numAttentionHeads == 0 else {
                throw ModelError.invalidField(
                    file: source, key: "head_dim",
                    reason: "absent, and hidden_size \(hiddenSize) is not a multiple of num_attention_heads"
                )
            }
            headDim = hiddenSize / numAttentionHeads
        }
        guard headDim % 2 == 0 else {
            throw ModelError.invalidField(file: source, key: "head_dim", reason: "\(headDim) is odd (RoPE rotates pairs)")
        }

        let vocabSize = try Self.positive(r, "vocab_size", max: 1 << 24)
        if let act = try r.string("hidden_act"), act != "silu" {
            throw ModelError.invalidField(file: source, key: "hidden_act", reason: "'\(act)' is not supported (only silu)")
        }

        var moe: MoE?
        if architecture == .moe {
            moe = try Self.decodeMoE(r, numHiddenLayers: numHiddenLayers)
        }
        // The dense FFN width is needed whenever some layer is dense.
        var anyDense = true
        if let moe {
            let probe = ModelConfig.layerIsMoE(moe: moe)
            anyDense = (0..<numHiddenLayers).contains { !probe($0) }
        }
        let intermediateSize: Int
        if anyDense {
            intermediateSize = try Self.positive(r, "intermediate_size")
        } else {
            intermediateSize = try r.int("intermediate_size") ?? 0
        }

        let ropeTheta = try Self.decodeRopeTheta(r)
        let rmsNormEps = try r.double("rms_norm_eps") ?? 1e-5
        guard rmsNormEps > 0, rmsNormEps < 1 else {
            throw ModelError.invalidField(file: source, key: "rms_norm_eps", reason: "\(rmsNormEps) is not in (0, 1)")
        }
        let maxPositionEmbeddings = try r.int("max_position_embeddings") ?? 131_072
        guard maxPositionEmbeddings > 0 else {
            throw ModelError.invalidField(file: source, key: "max_position_embeddings", reason: "must be positive")
        }
        let useBias = try r.bool("use_bias") ?? false
        let tie = try r.bool("tie_word_embeddings") ?? true

        let bosTokenID = r.has("bos_token_id") ? try r.int("bos_token_id") : 1
        let padTokenID = r.has("pad_token_id") ? try r.int("pad_token_id") : 0
        let eosTokenIDs = r.has("eos_token_id") ? try r.intList("eos_token_id") ?? [] : [2]

        self.init(
            architecture: architecture, hiddenSize: hiddenSize, intermediateSize: intermediateSize,
            numHiddenLayers: numHiddenLayers, numAttentionHeads: numAttentionHeads, numKeyValueHeads: numKeyValueHeads,
            headDim: headDim, vocabSize: vocabSize, maxPositionEmbeddings: maxPositionEmbeddings, ropeTheta: ropeTheta,
            rmsNormEps: Float(rmsNormEps), useBias: useBias, tieWordEmbeddings: tie, bosTokenID: bosTokenID,
            eosTokenIDs: eosTokenIDs, padTokenID: padTokenID, moe: moe
        )
    }

    private static let denseNames: Set<String> = ["Ernie4_5ForCausalLM", "Ernie4_5_ForCausalLM"]
    private static let moeNames: Set<String> = ["Ernie4_5_MoeForCausalLM"]

    private static func decodeArchitecture(_ r: JSONObjectReader) throws -> Architecture {
        let modelType = try r.string("model_type")
        var architecture: Architecture?
        if let names = try r.stringList("architectures"), !names.isEmpty {
            if let name = names.first(where: { denseNames.contains($0) || moeNames.contains($0) }) {
                architecture = denseNames.contains(name) ? .dense : .moe
            } else {
                throw ModelError.unsupportedArchitecture(file: r.file, names: names)
            }
        }
        switch (architecture, modelType) {
        case (nil, nil):
            throw ModelError.missingField(file: r.file, key: "architectures")
        case let (nil, type?):
            switch type {
            case "ernie4_5": return .dense
            case "ernie4_5_moe": return .moe
            default: throw ModelError.unsupportedArchitecture(file: r.file, names: [type])
            }
        case let (arch?, type?):
            let expected = arch == .dense ? "ernie4_5" : "ernie4_5_moe"
            guard type == expected else {
                throw ModelError.invalidField(
                    file: r.file, key: "model_type",
                    reason: "'\(type)' does not match the architecture (expected '\(expected)')"
                )
            }
            return arch
        case let (arch?, nil):
            return arch
        }
    }

    private static func decodeMoE(_ r: JSONObjectReader, numHiddenLayers: Int) throws -> MoE {
        func aliased(_ primary: String, _ alias: String) throws -> Int {
            if r.has(primary) { return try positive(r, primary) }
            if r.has(alias) { return try positive(r, alias) }
            throw ModelError.missingField(file: r.file, key: primary)
        }
        let numExperts = try aliased("moe_num_experts", "num_experts")
        let topK = try aliased("moe_k", "num_experts_per_tok")
        guard topK <= numExperts else {
            throw ModelError.invalidField(
                file: r.file, key: "moe_k", reason: "\(topK) exceeds moe_num_experts = \(numExperts)"
            )
        }
        let intermediate = try positive(r, "moe_intermediate_size")
        let shared = try nonNullInt(r, "moe_num_shared_experts", default: 2)
        let start = try nonNullInt(r, "moe_layer_start_index", default: 1)
        var end = try nonNullInt(r, "moe_layer_end_index", default: -1)
        let interval = try nonNullInt(r, "moe_layer_interval", default: 1)
        guard shared >= 0 else {
            throw ModelError.invalidField(file: r.file, key: "moe_num_shared_experts", reason: "must be >= 0")
        }
        guard interval >= 1 else {
            throw ModelError.invalidField(file: r.file, key: "moe_layer_interval", reason: "must be >= 1")
        }
        if end == -1 { end = numHiddenLayers - 1 }
        let normMin = try r.double("moe_norm_min") ?? 1e-12
        guard normMin >= 0 else {
            throw ModelError.invalidField(file: r.file, key: "moe_norm_min", reason: "must be >= 0")
        }
        return MoE(
            numExperts: numExperts, topK: topK, intermediateSize: intermediate, numSharedExperts: shared,
            layerStart: start, layerEnd: end, layerInterval: interval, normMin: Float(normMin)
        )
    }

    private static func decodeRopeTheta(_ r: JSONObjectReader) throws -> Double {
        var theta: Double?
        for key in ["rope_parameters", "rope_scaling"] {
            guard let p = try r.nested(key) else { continue }
            let type = try p.string("rope_type") ?? p.string("type") ?? "default"
            guard type == "default" else {
                throw ModelError.invalidField(
                    file: r.file, key: key + ".rope_type", reason: "'\(type)' is not supported (only default RoPE)"
                )
            }
            if theta == nil { theta = try p.double("rope_theta") }
        }
        let value = try theta ?? r.double("rope_theta") ?? 500_000
        guard value > 1 else {
            throw ModelError.invalidField(file: r.file, key: "rope_theta", reason: "\(value) must be > 1")
        }
        return value
    }

    private static func positive(_ r: JSONObjectReader, _ key: String, max: Int = 1 << 20) throws -> Int {
        let v = try r.requiredInt(key)
        guard v > 0, v <= max else {
            throw ModelError.invalidField(file: r.file, key: key, reason: "\(v) is not in 1...\(max)")
        }
        return v
    }

    private static func nonNullInt(_ r: JSONObjectReader, _ key: String, default value: Int) throws -> Int {
        guard r.has(key) else { return value }
        return try r.requiredInt(key)
    }

    static func layerIsMoE(moe: MoE) -> (Int) -> Bool {
        { i in (i + 1) % moe.layerInterval == 0 && i >= moe.layerStart && i <= moe.layerEnd }
    }
}
