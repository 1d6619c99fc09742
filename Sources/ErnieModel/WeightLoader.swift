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
    /// Loads from `checkpoint`; `layout` picks one tensor-parallel rank's shard (default: the whole model).
    /// `progress` hears how many bytes are on the backend after each weight (`WeightLoadProgress`).
    public static func load<B: Backend>(
        config: ModelConfig, checkpoint: SafetensorsCheckpoint, backend: B, layout: ParallelLayout? = nil,
        progress: WeightLoadProgressHandler? = nil
    ) throws -> LoadedWeights<B.Weight> {
        let source = CheckpointSource(checkpoint: checkpoint, backend: backend)
        let weights = try build(config: config, layout: layout ?? .whole(config), source: source, progress: progress)
        let unused = checkpoint.tensorNames.filter { !source.used.contains($0) }
        return LoadedWeights(weights: weights, unusedTensors: unused)
    }

    /// Random weights of the configured shapes: norm weights 1, correction biases 0, everything else uniform in
    /// `(-scale, scale)` from `DummyWeights`, seeded per tensor name. A rank's shard (`layout`) holds exactly the
    /// values of the same slice of the whole model's dummy weights.
    public static func dummy<B: Backend>(
        config: ModelConfig, backend: B, seed: UInt64 = 0, scale: Float = DummyWeights.defaultScale,
        layout: ParallelLayout? = nil, progress: WeightLoadProgressHandler? = nil
    ) throws -> ModelWeights<B.Weight> {
        try build(
            config: config, layout: layout ?? .whole(config),
            source: DummySource(backend: backend, seed: seed, scale: scale), progress: progress)
    }

    /// Loads the weights of the model folder `directory` in `format` (one rank's shard with `layout`), telling
    /// `progress` how far it has got.
    public static func load<B: Backend>(
        directory: String, config: ModelConfig, format: LoadFormat, backend: B, seed: UInt64 = 0,
        layout: ParallelLayout? = nil, progress: WeightLoadProgressHandler? = nil
    ) throws -> LoadedWeights<B.Weight> {
        switch format {
        case .dummy:
            return LoadedWeights(
                weights: try dummy(config: config, backend: backend, seed: seed, layout: layout, progress: progress),
                unusedTensors: [])
        case .auto, .safetensors:
            let checkpoint = try SafetensorsCheckpoint(directory: directory)
            return try load(
                config: config, checkpoint: checkpoint, backend: backend, layout: layout, progress: progress)
        }
    }

    // MARK: The model's structure, once for both sources

    /// The weights of `layout`'s rank. For the whole model every slice is `nil` and every tensor is read whole.
    static func build<S: WeightSource>(
        config c: ModelConfig, layout l: ParallelLayout, source s: S
    ) throws -> ModelWeights<S.W> {
        let h = c.hiddenSize
        let split = !l.isWholeModel
        let bias = l.holdsRowParallelBias
        let embedding = try s.tensor("model.embed_tokens.weight", shape: [c.vocabSize, h], kind: .linear, slice: nil)
        var layers: [LayerWeights<S.W>] = []
        for i in 0..<c.numHiddenLayers {
            let p = "model.layers.\(i)."
            let q = c.numAttentionHeads * c.headDim
            let kv = c.numKeyValueHeads * c.headDim
            let qRows = (l.headRange.lowerBound * c.headDim)..<(l.headRange.upperBound * c.headDim)
            let kvRows = (l.kvHeadRange.lowerBound * c.headDim)..<(l.kvHeadRange.upperBound * c.headDim)
            let qkvSlices: [TensorSlice]? = split ? [.rows(qRows), .rows(kvRows), .rows(kvRows)] : nil
            let qkvNames = ["q_proj", "k_proj", "v_proj"].map { p + "self_attn." + $0 }
            let qkv = Linear(
                weight: try s.rows(
                    qkvNames.map { $0 + ".weight" }, shapes: [[q, h], [kv, h], [kv, h]], kind: .linear,
                    slices: qkvSlices),
                bias: c.useBias
                    ? try s.rows(qkvNames.map { $0 + ".bias" }, shapes: [[q], [kv], [kv]], kind: .bias, slices: qkvSlices)
                    : nil
            )
            let o = try rowParallel(
                s, p + "self_attn.o_proj", out: h, in: q, bias: c.useBias && bias, columns: split ? qRows : nil)
            let feedForward: FeedForwardWeights<S.W>
            if c.isMoELayer(i), let moe = c.moe {
                feedForward = .moe(try moeWeights(s, prefix: p + "mlp.", config: c, moe: moe, layout: l))
            } else {
                feedForward = .dense(try mlp(
                    s, prefix: p + "mlp.", hidden: h, width: c.intermediateSize, useBias: c.useBias, layout: l,
                    range: split ? l.denseWidthRange : nil))
            }
            layers.append(LayerWeights(
                inputNorm: try s.tensor(p + "input_layernorm.weight", shape: [h], kind: .norm, slice: nil),
                postAttentionNorm: try s.tensor(p + "post_attention_layernorm.weight", shape: [h], kind: .norm, slice: nil),
                qkv: qkv, o: o, feedForward: feedForward
            ))
        }
        let finalNorm = try s.tensor("model.norm.weight", shape: [h], kind: .norm, slice: nil)
        // The LM head is split by vocabulary rows; every shard has `vocabShardRows` rows, zero-padded.
        let vocabSlice: TensorSlice? = split ? TensorSlice(rowRanges: [l.vocabRange], paddedRows: l.vocabShardRows) : nil
        var head = Linear(weight: embedding)
        if !c.tieWordEmbeddings || split {
            let name = c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"
            head.weight = try s.tensor(name, shape: [c.vocabSize, h], kind: .linear, slice: vocabSlice)
        }
        // transformers gives the MoE model's LM head a bias when use_bias (the dense model's head never has one).
        if c.architecture == .moe && c.useBias {
            head.bias = try s.tensor("lm_head.bias", shape: [c.vocabSize], kind: .bias, slice: vocabSlice)
        }
        return ModelWeights(embedding: embedding, layers: layers, finalNorm: finalNorm, lmHead: head)
    }

    /// A row-parallel linear layer: columns `columns` of the weight (all when nil); the bias only when `bias`.
    private static func rowParallel<S: WeightSource>(
        _ s: S, _ name: String, out: Int, in: Int, bias: Bool, columns: Range<Int>?
    ) throws -> Linear<S.W> {
        Linear(
            weight: try s.tensor(
                name + ".weight", shape: [out, `in`], kind: .linear, slice: columns.map { TensorSlice(columns: $0) }),
            bias: bias ? try s.tensor(name + ".bias", shape: [out], kind: .bias, slice: nil) : nil
        )
    }

    /// A SwiGLU MLP of `width`; with `range`, only those intermediate columns (gate|up rows, down columns).
    private static func mlp<S: WeightSource>(
        _ s: S, prefix: String, hidden: Int, width: Int, useBias: Bool, layout: ParallelLayout, range: Range<Int>?
    ) throws -> MLPWeights<S.W> {
        let gu = [prefix + "gate_proj", prefix + "up_proj"]
        let slices: [TensorSlice]? = range.map { [.rows($0), .rows($0)] }
        return MLPWeights(
            gateUp: Linear(
                weight: try s.rows(
                    gu.map { $0 + ".weight" }, shapes: [[width, hidden], [width, hidden]], kind: .linear,
                    slices: slices),
                bias: useBias
                    ? try s.rows(gu.map { $0 + ".bias" }, shapes: [[width], [width]], kind: .bias, slices: slices)
                    : nil
            ),
            down: try rowParallel(
                s, prefix + "down_proj", out: hidden, in: width, bias: useBias && layout.holdsRowParallelBias,
                columns: range)
        )
    }

    private static func moeWeights<S: WeightSource>(
        _ s: S, prefix: String, config c: ModelConfig, moe: ModelConfig.MoE, layout l: ParallelLayout
    ) throws -> MoEWeights<S.W> {
        let h = c.hiddenSize
        let split = !l.isWholeModel
        let (gateUp, down) = try s.experts(
            prefix: prefix, count: moe.numExperts, hidden: h, width: moe.intermediateSize,
            shard: split ? ExpertShard(experts: l.expertRange, width: l.expertWidthRange) : nil)
        var shared: MLPWeights<S.W>?
        if moe.numSharedExperts > 0 {
            shared = try mlp(
                s, prefix: prefix + "shared_experts.", hidden: h, width: moe.intermediateSize * moe.numSharedExperts,
                useBias: c.useBias, layout: l, range: split ? l.sharedWidthRange : nil
            )
        }
        return MoEWeights(
            router: try s.tensor(prefix + "gate.weight", shape: [moe.numExperts, h], kind: .router, slice: nil),
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
    /// Tensor `name` of `shape`, or the part `slice` of it (whole when nil).
    func tensor(_ name: String, shape: [Int], kind: WeightKind, slice: TensorSlice?) throws -> W
    /// Several tensors with equal column counts as one weight, rows concatenated in order; with `slices` (one per
    /// tensor) only those parts of each.
    func rows(_ names: [String], shapes: [[Int]], kind: WeightKind, slices: [TensorSlice]?) throws -> W
    /// All experts of one MoE layer: gate|up stacked `[E·2I, H]` and down stacked `[E·H, I]`; with `shard`, only
    /// its experts and, of each, its intermediate columns (`[E'·2I', H]` and `[E'·H, I']`).
    func experts(prefix: String, count: Int, hidden: Int, width: Int, shard: ExpertShard?) throws -> (gateUp: W, down: W)
    func correctionBias(prefix: String, count: Int) throws -> W?
}

/// A part of a `[rows, columns]` tensor (a vector `[n]` counts as n rows): some row ranges, in order, of some
/// columns, optionally followed by zero rows up to `paddedRows`.
struct TensorSlice: Equatable {
    /// Row ranges (nil: every row).
    var rowRanges: [Range<Int>]?
    /// Column range (nil: every column).
    var columns: Range<Int>?
    /// Total rows after zero padding (nil: no padding).
    var paddedRows: Int?

    init(rowRanges: [Range<Int>]? = nil, columns: Range<Int>? = nil, paddedRows: Int? = nil) {
        self.rowRanges = rowRanges
        self.columns = columns
        self.paddedRows = paddedRows
    }

    static func rows(_ range: Range<Int>) -> TensorSlice { TensorSlice(rowRanges: [range]) }

    /// The shape of the slice of a tensor of `shape`.
    func shape(of shape: [Int]) -> [Int] {
        var rows = rowRanges.map { $0.reduce(0) { $0 + $1.count } } ?? (shape.first ?? 0)
        if let paddedRows { rows = max(rows, paddedRows) }
        if shape.count == 1 { return [rows] }
        return [rows, columns?.count ?? shape.dropFirst().reduce(1, *)]
    }
}

/// The experts (and the intermediate columns of each) one rank holds.
struct ExpertShard: Equatable {
    var experts: Range<Int>
    var width: Range<Int>
}
