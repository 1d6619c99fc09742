/// A linear layer: weight `[out, in]` and an optional bias `[out]`.
public struct Linear<W> {
    public var weight: W
    public var bias: W?

    public init(weight: W, bias: W? = nil) {
        self.weight = weight
        self.bias = bias
    }
}

/// A SwiGLU MLP with gate and up fused: `down(silu(gateUp[:I]) * gateUp[I:])`.
public struct MLPWeights<W> {
    /// `[2I, H]`: gate rows then up rows.
    public var gateUp: Linear<W>
    /// `[H, I]`.
    public var down: Linear<W>

    public init(gateUp: Linear<W>, down: Linear<W>) {
        self.gateUp = gateUp
        self.down = down
    }
}

/// One MoE block's weights.
public struct MoEWeights<W> {
    /// Router `[E, H]`, float32.
    public var router: W
    /// `e_score_correction_bias` `[E]`, float32; `nil` acts as zeros.
    public var correctionBias: W?
    /// All experts' gate|up stacked: expert `e` owns rows `[e·2I, (e+1)·2I)` of `[E·2I, H]` (gate rows then up rows).
    public var expertsGateUp: W
    /// All experts' down projections stacked: expert `e` owns rows `[e·H, (e+1)·H)` of `[E·H, I]`.
    public var expertsDown: W
    /// Stacked expert biases when `use_bias` (same layouts, one row per output), else nil.
    public var expertsGateUpBias: W?
    public var expertsDownBias: W?
    /// The shared-expert MLP (width `I × moe_num_shared_experts`), nil when there are no shared experts.
    public var shared: MLPWeights<W>?

    public init(
        router: W, correctionBias: W?, expertsGateUp: W, expertsDown: W, expertsGateUpBias: W? = nil,
        expertsDownBias: W? = nil, shared: MLPWeights<W>?
    ) {
        self.router = router
        self.correctionBias = correctionBias
        self.expertsGateUp = expertsGateUp
        self.expertsDown = expertsDown
        self.expertsGateUpBias = expertsGateUpBias
        self.expertsDownBias = expertsDownBias
        self.shared = shared
    }
}

public enum FeedForwardWeights<W> {
    case dense(MLPWeights<W>)
    case moe(MoEWeights<W>)
}

public struct LayerWeights<W> {
    public var inputNorm: W
    public var postAttentionNorm: W
    /// Fused q|k|v `[(nq + 2·nkv)·hd, H]`.
    public var qkv: Linear<W>
    /// `[H, nq·hd]`.
    public var o: Linear<W>
    public var feedForward: FeedForwardWeights<W>

    public init(inputNorm: W, postAttentionNorm: W, qkv: Linear<W>, o: Linear<W>, feedForward: FeedForwardWeights<W>) {
        self.inputNorm = inputNorm
        self.postAttentionNorm = postAttentionNorm
        self.qkv = qkv
        self.o = o
        self.feedForward = feedForward
    }
}

public struct ModelWeights<W> {
    public var embedding: W
    public var layers: [LayerWeights<W>]
    public var finalNorm: W
    /// The LM head `[vocab, H]`; the embedding matrix when tied.
    public var lmHead: Linear<W>

    public init(embedding: W, layers: [LayerWeights<W>], finalNorm: W, lmHead: Linear<W>) {
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.lmHead = lmHead
    }
}
