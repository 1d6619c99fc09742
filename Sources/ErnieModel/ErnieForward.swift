/// The ERNIE-4.5 forward pass (dense and MoE), written once against `Backend`, as a `ModelExecutor`.
///
/// One step: embedding → per layer [input RMSNorm (fused with the residual add), q|k|v projection, attention
/// (interleaved RoPE, paged KV write, causal GQA), o projection, post-attention RMSNorm, dense SwiGLU or MoE] →
/// final RMSNorm on the rows that need logits → LM head → sampling. The executor owns the weights and allocates
/// the paged KV cache on its backend when it is created.
public final class ErnieForward<B: Backend>: ModelExecutor {
    public let config: ModelConfig
    public let backend: B
    public let weights: ModelWeights<B.Weight>
    public let kvLayout: KVCacheLayout

    public var deviceDescription: String { backend.deviceDescription }

    private let attentionShape: AttentionShape
    private let moeShape: MoEShape?

    /// Wraps loaded weights and allocates a KV cache of `kvPages` pages of `pageSize` tokens.
    public init(config: ModelConfig, weights: ModelWeights<B.Weight>, backend: B, kvPages: Int, pageSize: Int) throws {
        guard kvPages > 0, pageSize > 0 else {
            throw ModelError.backend("the KV cache needs at least one page of at least one token")
        }
        guard weights.layers.count == config.numHiddenLayers else {
            throw ModelError.backend("\(weights.layers.count) layers of weights for \(config.numHiddenLayers) layers")
        }
        self.config = config
        self.backend = backend
        self.weights = weights
        kvLayout = KVCacheLayout(
            numPages: kvPages, pageSize: pageSize, numLayers: config.numHiddenLayers,
            numKVHeads: config.numKeyValueHeads, headDim: config.headDim
        )
        attentionShape = AttentionShape(
            numHeads: config.numAttentionHeads, numKVHeads: config.numKeyValueHeads, headDim: config.headDim,
            ropeTheta: config.ropeTheta
        )
        moeShape = config.moe.map {
            MoEShape(
                numExperts: $0.numExperts, topK: $0.topK, intermediateSize: $0.intermediateSize,
                sharedIntermediateSize: $0.intermediateSize * $0.numSharedExperts, normMin: $0.normMin
            )
        }
        try backend.allocateKVCache(kvLayout)
    }

    /// Loads a model folder (config.json plus safetensors, or dummy weights) onto `backend`.
    public static func load(
        directory: String, backend: B, format: LoadFormat = .auto, kvPages: Int, pageSize: Int, seed: UInt64 = 0
    ) throws -> ErnieForward<B> {
        let config = try ModelConfig(contentsOf: directory)
        let loaded = try WeightLoader.load(directory: directory, config: config, format: format, backend: backend,
                                           seed: seed)
        return try ErnieForward(config: config, weights: loaded.weights, backend: backend, kvPages: kvPages,
                                pageSize: pageSize)
    }

    public func execute(_ batch: ForwardBatch, logits requests: [LogitsRequest]) throws -> [TokenResult] {
        try batch.validate(vocabSize: config.vocabSize, layout: kvLayout)
        for r in requests {
            guard r.tokenIndex >= 0, r.tokenIndex < batch.tokens.count else {
                throw ModelError.invalidBatch("logits requested for token \(r.tokenIndex) of \(batch.tokens.count)")
            }
        }
        if batch.tokens.isEmpty { return [] }
        try backend.beginStep(batch)
        do {
            let results = try forward(requests: requests)
            try backend.endStep()
            return results
        } catch {
            try? backend.endStep()
            throw error
        }
    }

    private func forward(requests: [LogitsRequest]) throws -> [TokenResult] {
        let eps = config.rmsNormEps
        var hidden = try backend.embed(weights.embedding)
        var residual: B.Tensor?
        for (index, layer) in weights.layers.enumerated() {
            let (normed, afterInput) = try backend.addRMSNorm(hidden, residual: residual, weight: layer.inputNorm,
                                                               eps: eps)
            let qkv = try backend.linear(normed, layer.qkv.weight, bias: layer.qkv.bias)
            let attention = try backend.attention(qkv: qkv, layer: index, shape: attentionShape)
            let projected = try backend.linear(attention, layer.o.weight, bias: layer.o.bias)
            let (ffnInput, afterAttention) = try backend.addRMSNorm(
                projected, residual: afterInput, weight: layer.postAttentionNorm, eps: eps
            )
            residual = afterAttention
            switch layer.feedForward {
            case let .dense(mlp):
                hidden = try denseMLP(ffnInput, mlp)
            case let .moe(moe):
                guard let moeShape else { throw ModelError.backend("MoE weights in a dense model") }
                hidden = try backend.moe(ffnInput, weights: moe, shape: moeShape)
            }
        }
        guard !requests.isEmpty else { return [] }
        let indices = requests.map(\.tokenIndex)
        let lastHidden = try backend.gatherRows(hidden, indices: indices)
        let lastResidual = try residual.map { try backend.gatherRows($0, indices: indices) }
        let (final, _) = try backend.addRMSNorm(lastHidden, residual: lastResidual, weight: weights.finalNorm, eps: eps)
        let logits = try backend.linear(final, weights.lmHead.weight, bias: weights.lmHead.bias)
        return try backend.sample(logits, requests: requests)
    }

    private func denseMLP(_ x: B.Tensor, _ mlp: MLPWeights<B.Weight>) throws -> B.Tensor {
        let gateUp = try backend.linear(x, mlp.gateUp.weight, bias: mlp.gateUp.bias)
        let activated = try backend.siluAndMul(gateUp)
        return try backend.linear(activated, mlp.down.weight, bias: mlp.down.bias)
    }
}
