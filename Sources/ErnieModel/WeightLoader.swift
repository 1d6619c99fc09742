import Foundation

/// Where `ErnieForward` takes its weights from (`--load-format`).
public enum LoadFormat: String, Sendable, CaseIterable {
    /// Safetensors when the folder has them, else an error.
    case auto
    case safetensors
    /// Random weights of the configured shapes (speed measurements without a checkpoint).
    case dummy
}

/// Weights uploaded to a backend, plus what the checkpoint held that the model did not use.
public struct LoadedWeights<W> {
    public var weights: ModelWeights<W>
    /// Checkpoint tensors the model does not read (MTP layers and anything unexpected), sorted.
    public var unusedTensors: [String]
}

/// Builds `ModelWeights` on a backend from a safetensors checkpoint or from dummy random values.
///
/// Tensor names are those of Hugging Face ERNIE-4.5 checkpoints (`model.layers.N.…`). MoE experts are read per
/// expert (`mlp.experts.E.{gate,up,down}_proj.weight`, the hub layout and what transformers' `save_pretrained`
/// writes by default) or fused (`mlp.experts.gate_up_proj` `[E, 2I, H]` and `mlp.experts.down_proj` `[E, H, I]`,
/// transformers' in-memory layout written with `save_original_format=False`). The correction bias is read from
/// `mlp.moe_statics.e_score_correction_bias`, `mlp.gate.moe_statics.e_score_correction_bias` or
/// `mlp.gate.e_score_correction_bias` (`[1, E]` or `[E]`); absent means zeros.
public enum WeightLoader {
    /// Loads from `checkpoint`.
    public static func load<B: Backend>(
        config: ModelConfig, checkpoint: SafetensorsCheckpoint, backend: B
    ) throws -> LoadedWeights<B.Weight> {
        let source = CheckpointSource(checkpoint: checkpoint, backend: backend)
        let weights = try build(config: config, source: source)
        let unused = checkpoint.tensorNames.filter { !source.used.contains($0) }
        return LoadedWeights(weights: weights, unusedTensors: unused)
    }

    /// Random weights of the configured shapes: norm weights 1, correction biases 0, everything else uniform in
    /// `(-scale, scale)` from `DummyWeights`, seeded per tensor name.
    public static func dummy<B: Backend>(
        config: ModelConfig, backend: B, seed: UInt64 = 0, scale: Float = DummyWeights.defaultScale
    ) throws -> ModelWeights<B.Weight> {
        try build(config: config, source: DummySource(backend: backend, seed: seed, scale: scale))
    }

    /// Loads the weights of the model folder `directory` in `format`.
    public static func load<B: Backend>(
        directory: String, config: ModelConfig, format: LoadFormat, backend: B, seed: UInt64 = 0
    ) throws -> LoadedWeights<B.Weight> {
        switch format {
        case .dummy:
            return LoadedWeights(weights: try dummy(config: config, backend: backend, seed: seed), unusedTensors: [])
        case .auto, .safetensors:
            let checkpoint = try SafetensorsCheckpoint(directory: directory)
            return try load(config: config, checkpoint: checkpoint, backend: backend)
        }
    }

    // MARK: The model's structure, once for both sources

    static func build<S: WeightSource>(config c: ModelConfig, source s: S) throws -> ModelWeights<S.W> {
        let h = c.hiddenSize
        let embedding = try s.tensor("model.embed_tokens.weight", shape: [c.vocabSize, h], kind: .linear)
        var layers: [LayerWeights<S.W>] = []
        for i in 0..<c.numHiddenLayers {
            let p = "model.layers.\(i)."
            let q = c.numAttentionHeads * c.headDim
            let kv = c.numKeyValueHeads * c.headDim
            let qkvNames = ["q_proj", "k_proj", "v_proj"].map { p + "self_attn." + $0 }
            let qkv = Linear(
                weight: try s.rows(qkvNames.map { $0 + ".weight" }, shapes: [[q, h], [kv, h], [kv, h]], kind: .linear),
                bias: c.useBias ? try s.rows(qkvNames.map { $0 + ".bias" }, shapes: [[q], [kv], [kv]], kind: .bias) : nil
            )
            let o = try linear(s, p + "self_attn.o_proj", out: h, in: q, bias: c.useBias)
            let feedForward: FeedForwardWeights<S.W>
            if c.isMoELayer(i), let moe = c.moe {
                feedForward = .moe(try moeWeights(s, prefix: p + "mlp.", config: c, moe: moe))
            } else {
                feedForward = .dense(try mlp(s, prefix: p + "mlp.", hidden: h, width: c.intermediateSize, bias: c.useBias))
            }
            layers.append(LayerWeights(
                inputNorm: try s.tensor(p + "input_layernorm.weight", shape: [h], kind: .norm),
                postAttentionNorm: try s.tensor(p + "post_attention_layernorm.weight", shape: [h], kind: .norm),
                qkv: qkv, o: o, feedForward: feedForward
            ))
        }
        let finalNorm = try s.tensor("model.norm.weight", shape: [h], kind: .norm)
        var head = Linear(weight: embedding)
        if !c.tieWordEmbeddings {
            head.weight = try s.tensor("lm_head.weight", shape: [c.vocabSize, h], kind: .linear)
        }
        // transformers gives the MoE model's LM head a bias when use_bias (the dense model's head never has one).
        if c.architecture == .moe && c.useBias {
            head.bias = try s.tensor("lm_head.bias", shape: [c.vocabSize], kind: .bias)
        }
        return ModelWeights(embedding: embedding, layers: layers, finalNorm: finalNorm, lmHead: head)
    }

    private static func linear<S: WeightSource>(
        _ s: S, _ name: String, out: Int, in: Int, bias: Bool
    ) throws -> Linear<S.W> {
        Linear(
            weight: try s.tensor(name + ".weight", shape: [out, `in`], kind: .linear),
            bias: bias ? try s.tensor(name + ".bias", shape: [out], kind: .bias) : nil
        )
    }

    private static func mlp<S: WeightSource>(
        _ s: S, prefix: String, hidden: Int, width: Int, bias: Bool
    ) throws -> MLPWeights<S.W> {
        let gu = [prefix + "gate_proj", prefix + "up_proj"]
        return MLPWeights(
            gateUp: Linear(
                weight: try s.rows(gu.map { $0 + ".weight" }, shapes: [[width, hidden], [width, hidden]], kind: .linear),
                bias: bias ? try s.rows(gu.map { $0 + ".bias" }, shapes: [[width], [width]], kind: .bias) : nil
            ),
            down: try linear(s, prefix + "down_proj", out: hidden, in: width, bias: bias)
        )
    }

    private static func moeWeights<S: WeightSource>(
        _ s: S, prefix: String, config c: ModelConfig, moe: ModelConfig.MoE
    ) throws -> MoEWeights<S.W> {
        let h = c.hiddenSize
        let (gateUp, down) = try s.experts(prefix: prefix, count: moe.numExperts, hidden: h, width: moe.intermediateSize)
        var shared: MLPWeights<S.W>?
        if moe.numSharedExperts > 0 {
            shared = try mlp(
                s, prefix: prefix + "shared_experts.", hidden: h, width: moe.intermediateSize * moe.numSharedExperts,
                bias: c.useBias
            )
        }
        return MoEWeights(
            router: try s.tensor(prefix + "gate.weight", shape: [moe.numExperts, h], kind: .router),
            correctionBias: try s.correctionBias(prefix: prefix, count: moe.numExperts),
            expertsGateUp: gateUp, expertsDown: down, shared: shared
        )
    }
}

/// What a weight is, which decides its precision and its dummy value.
enum WeightKind {
    case linear, bias, norm, router

    var precision: WeightPrecision { self == .router ? .float32 : .standard }
}

/// A provider of named weights on a backend.
protocol WeightSource {
    associatedtype W
    func tensor(_ name: String, shape: [Int], kind: WeightKind) throws -> W
    /// Several tensors with equal column counts as one weight, rows concatenated in order.
    func rows(_ names: [String], shapes: [[Int]], kind: WeightKind) throws -> W
    /// All experts of one MoE layer: gate|up stacked `[E·2I, H]` and down stacked `[E·H, I]`.
    func experts(prefix: String, count: Int, hidden: Int, width: Int) throws -> (gateUp: W, down: W)
    func correctionBias(prefix: String, count: Int) throws -> W?
}
