/// The ERNIE-4.5 forward pass (dense and MoE), written once against `Backend`, as a `ModelExecutor`.
///
/// One step: embedding → per layer [input RMSNorm (fused with the residual add), q|k|v projection, attention
/// (interleaved RoPE, paged KV write, causal GQA), o projection, post-attention RMSNorm, dense SwiGLU or MoE] →
/// final RMSNorm on the rows that need logits → LM head → sampling. The executor owns the weights and allocates
/// the paged KV cache on its backend when it is created.
///
/// As one rank of a tensor-parallel group (`parallel`), the weights are the rank's shard (`ParallelLayout`), the
/// outputs of o_proj and of every MLP/MoE block are summed over the ranks, and the vocabulary-split logits are
/// gathered before sampling, which only rank 0 does (the other ranks answer no rows).
public final class ErnieForward<B: Backend>: ModelExecutor {
    public let config: ModelConfig
    public let backend: B
    public let weights: ModelWeights<B.Weight>
    public let kvLayout: KVCacheLayout
    /// This executor's place in a tensor-parallel group; nil for a single device.
    public let parallel: TensorParallelRank<B>?
    /// When set, sees the residual stream of every step after the embedding, after each layer and after the final
    /// norm (`HiddenStatePoint`), copied to the host. nil (the default) costs one check per layer.
    public var hiddenStateObserver: HiddenStateObserver?

    public var deviceDescription: String { backend.deviceDescription }

    private let attentionShape: AttentionShape
    private let moeShape: MoEShape?

    /// Wraps loaded weights and allocates a KV cache of `kvPages` pages of `pageSize` tokens; with `parallel`, the
    /// weights must be that rank's shard (`WeightLoader` with `parallel.layout`).
    public init(
        config: ModelConfig, weights: ModelWeights<B.Weight>, backend: B, kvPages: Int, pageSize: Int,
        parallel: TensorParallelRank<B>? = nil
    ) throws {
        guard kvPages > 0, pageSize > 0 else {
            throw ModelError.backend("the KV cache needs at least one page of at least one token")
        }
        guard weights.layers.count == config.numHiddenLayers else {
            throw ModelError.backend("\(weights.layers.count) layers of weights for \(config.numHiddenLayers) layers")
        }
        let layout = parallel?.layout ?? .whole(config)
        if let parallel { try parallel.check(config: config) }
        self.config = config
        self.backend = backend
        self.weights = weights
        self.parallel = parallel
        kvLayout = KVCacheLayout(
            numPages: kvPages, pageSize: pageSize, numLayers: config.numHiddenLayers,
            numKVHeads: layout.kvHeadRange.count, headDim: config.headDim
        )
        attentionShape = AttentionShape(
            numHeads: layout.headRange.count, numKVHeads: layout.kvHeadRange.count, headDim: config.headDim,
            ropeTheta: config.ropeTheta
        )
        moeShape = config.moe.map {
            MoEShape(
                numExperts: $0.numExperts, topK: $0.topK, intermediateSize: layout.expertWidthRange.count,
                sharedIntermediateSize: layout.sharedWidthRange.count, normMin: $0.normMin,
                expertRange: layout.expertRange
            )
        }
        if let moeShape, moeShape.isExpertParallel, !backend.supportsExpertParallelism {
            throw ParallelError.unsupportedBackend(
                "expert parallelism (--ep-size > 1) is not implemented by the \(backend.deviceDescription) backend; "
                    + "use tensor-parallel experts (--ep-size 1)")
        }
        // Before the KV cache takes the device's memory: the preparation may use scratch buffers.
        if let moeShape { try backend.prepareMoE(moeShape, hidden: config.hiddenSize) }
        try backend.allocateKVCache(kvLayout)
    }

    /// Loads a model folder (config.json plus safetensors, or dummy weights) onto `backend`; `progress` hears how
    /// many bytes of weights are on the backend after each weight.
    public static func load(
        directory: String, backend: B, format: LoadFormat = .auto, kvPages: Int, pageSize: Int, seed: UInt64 = 0,
        progress: WeightLoadProgressHandler? = nil
    ) throws -> ErnieForward<B> {
        let config = try ModelConfig(contentsOf: directory)
        let loaded = try WeightLoader.load(directory: directory, config: config, format: format, backend: backend,
                                           seed: seed, progress: progress)
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
            let results = try forward(tokenCount: batch.tokens.count, requests: requests)
            try backend.endStep()
            return results
        } catch {
            // Peers of a tensor-parallel group may be waiting for this rank's next collective (or graph decision):
            // release them before ending the step, which may wait for the device.
            parallel?.communicator.abort(reason: "rank \(parallel?.layout.rank ?? 0): \(error)")
            try? backend.endStep()
            throw error
        }
    }

    private func forward(tokenCount: Int, requests: [LogitsRequest]) throws -> [TokenResult] {
        let eps = config.rmsNormEps
        var hidden = try backend.embed(weights.embedding)
        var residual: B.Tensor?
        if let observer = hiddenStateObserver { try observe(observer, .embedding, hidden, tokens: tokenCount) }
        for (index, layer) in weights.layers.enumerated() {
            let (normed, afterInput) = try backend.addRMSNorm(hidden, residual: residual, weight: layer.inputNorm,
                                                               eps: eps)
            let qkv = try backend.linear(normed, layer.qkv.weight, bias: layer.qkv.bias)
            let attention = try backend.attention(qkv: qkv, layer: index, shape: attentionShape)
            let projected = try allReduce(backend.linear(attention, layer.o.weight, bias: layer.o.bias))
            let (ffnInput, afterAttention) = try backend.addRMSNorm(
                projected, residual: afterInput, weight: layer.postAttentionNorm, eps: eps
            )
            residual = afterAttention
            switch layer.feedForward {
            case let .dense(mlp):
                hidden = try allReduce(denseMLP(ffnInput, mlp))
            case let .moe(moe):
                guard let moeShape else { throw ModelError.backend("MoE weights in a dense model") }
                hidden = try allReduce(backend.moe(ffnInput, weights: moe, shape: moeShape))
            }
            if let observer = hiddenStateObserver {
                try observe(observer, .layer(index), hidden, residual: residual, tokens: tokenCount)
            }
        }
        guard !requests.isEmpty else { return [] }
        let indices = requests.map(\.tokenIndex)
        let lastHidden = try backend.gatherRows(hidden, indices: indices)
        let lastResidual = try residual.map { try backend.gatherRows($0, indices: indices) }
        let (final, _) = try backend.addRMSNorm(lastHidden, residual: lastResidual, weight: weights.finalNorm, eps: eps)
        if let observer = hiddenStateObserver { try observe(observer, .finalNorm, final, tokens: indices) }
        var logits = try backend.linear(final, weights.lmHead.weight, bias: weights.lmHead.bias)
        if let parallel {
            logits = try parallel.communicator.allGatherColumns(logits, widths: parallel.layout.vocabShardWidths)
            guard parallel.layout.rank == 0 else { return [] }
        }
        return try backend.sample(logits, requests: requests)
    }

    /// The sum over the tensor-parallel ranks of a row-parallel output (`x` itself on a single device).
    @inline(__always)
    private func allReduce(_ x: B.Tensor) throws -> B.Tensor {
        guard let parallel else { return x }
        return try parallel.communicator.allReduceSum(x)
    }

    private func denseMLP(_ x: B.Tensor, _ mlp: MLPWeights<B.Weight>) throws -> B.Tensor {
        let gateUp = try backend.linear(x, mlp.gateUp.weight, bias: mlp.gateUp.bias)
        let activated = try backend.siluAndMul(gateUp)
        return try backend.linear(activated, mlp.down.weight, bias: mlp.down.bias)
    }
}
