/// The computation-relevant fields of an ERNIE-4.5 `config.json`, as transformers reads them.
///
/// Decoding (`ModelConfig(contentsOf:)` / `ModelConfig(json:)`) lives in `ModelConfig+Decoding.swift`.
public struct ModelConfig: Sendable, Equatable {
    public enum Architecture: String, Sendable, Equatable {
        /// `Ernie4_5ForCausalLM` / `Ernie4_5_ForCausalLM` (`model_type: ernie4_5`).
        case dense
        /// `Ernie4_5_MoeForCausalLM` (`model_type: ernie4_5_moe`).
        case moe
    }

    public struct MoE: Sendable, Equatable {
        public var numExperts: Int
        public var topK: Int
        public var intermediateSize: Int
        public var numSharedExperts: Int
        /// First MoE layer (inclusive).
        public var layerStart: Int
        /// Last MoE layer (inclusive); `-1` in the file is resolved to `numHiddenLayers - 1`.
        public var layerEnd: Int
        public var layerInterval: Int
        public var normMin: Float

        public init(
            numExperts: Int, topK: Int, intermediateSize: Int, numSharedExperts: Int,
            layerStart: Int, layerEnd: Int, layerInterval: Int, normMin: Float
        ) {
            self.numExperts = numExperts
            self.topK = topK
            self.intermediateSize = intermediateSize
            self.numSharedExperts = numSharedExperts
            self.layerStart = layerStart
            self.layerEnd = layerEnd
            self.layerInterval = layerInterval
            self.normMin = normMin
        }
    }

    public var architecture: Architecture
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int
    public var ropeTheta: Double
    public var rmsNormEps: Float
    public var useBias: Bool
    public var tieWordEmbeddings: Bool
    public var bosTokenID: Int?
    public var eosTokenIDs: [Int]
    public var padTokenID: Int?
    public var moe: MoE?

    public init(
        architecture: Architecture, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
        numAttentionHeads: Int, numKeyValueHeads: Int, headDim: Int, vocabSize: Int, maxPositionEmbeddings: Int,
        ropeTheta: Double, rmsNormEps: Float, useBias: Bool, tieWordEmbeddings: Bool, bosTokenID: Int?,
        eosTokenIDs: [Int], padTokenID: Int?, moe: MoE?
    ) {
        self.architecture = architecture
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.headDim = headDim
        self.vocabSize = vocabSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.ropeTheta = ropeTheta
        self.rmsNormEps = rmsNormEps
        self.useBias = useBias
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenID = bosTokenID
        self.eosTokenIDs = eosTokenIDs
        self.padTokenID = padTokenID
        self.moe = moe
    }

    /// Whether layer `index` uses the MoE block (transformers: `(i+1) % interval == 0 && start <= i <= end`).
    public func isMoELayer(_ index: Int) -> Bool {
        guard let moe else { return false }
        return (index + 1) % moe.layerInterval == 0 && index >= moe.layerStart && index <= moe.layerEnd
    }

    /// Bytes of K+V one token occupies in one layer at `bytesPerElement`.
    public func kvBytesPerTokenPerLayer(bytesPerElement: Int) -> Int {
        2 * numKeyValueHeads * headDim * bytesPerElement
    }
}
