/// Precision a weight is kept in on the device.
public enum WeightPrecision: Sendable, Equatable {
    /// The backend's compute-weight format (bf16 on the GPU; the CPU backend widens everything to f32).
    case standard
    /// Kept in float32 whatever the checkpoint dtype (the MoE router and its correction bias).
    case float32
}

/// Shapes the attention op needs.
public struct AttentionShape: Sendable, Equatable {
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var ropeTheta: Double

    public init(numHeads: Int, numKVHeads: Int, headDim: Int, ropeTheta: Double) {
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.ropeTheta = ropeTheta
    }
}

/// Shapes the MoE op needs.
public struct MoEShape: Sendable, Equatable {
    public var numExperts: Int
    public var topK: Int
    public var intermediateSize: Int
    /// Width of the shared-expert MLP (`moe_intermediate_size × moe_num_shared_experts`), 0 when there is none.
    public var sharedIntermediateSize: Int
    public var normMin: Float
    /// The experts whose weights the device holds (expert parallelism): routing still chooses among all
    /// `numExperts`, but tokens routed to experts outside the range get nothing from them (another device adds
    /// those). The MoE weights then stack only these experts. Default: every expert.
    public var expertRange: Range<Int>

    public init(
        numExperts: Int, topK: Int, intermediateSize: Int, sharedIntermediateSize: Int, normMin: Float,
        expertRange: Range<Int>? = nil
    ) {
        self.numExperts = numExperts
        self.topK = topK
        self.intermediateSize = intermediateSize
        self.sharedIntermediateSize = sharedIntermediateSize
        self.normMin = normMin
        self.expertRange = expertRange ?? 0..<numExperts
    }

    /// Whether the device holds only some of the experts.
    public var isExpertParallel: Bool { expertRange != 0..<numExperts }
}

/// Geometry of the paged KV cache.
public struct KVCacheLayout: Sendable, Equatable {
    public var numPages: Int
    public var pageSize: Int
    public var numLayers: Int
    public var numKVHeads: Int
    public var headDim: Int

    public init(numPages: Int, pageSize: Int, numLayers: Int, numKVHeads: Int, headDim: Int) {
        self.numPages = numPages
        self.pageSize = pageSize
        self.numLayers = numLayers
        self.numKVHeads = numKVHeads
        self.headDim = headDim
    }

    public var capacityTokens: Int { numPages * pageSize }
}

/// The operations one ERNIE-4.5 forward step is made of, implemented once per device.
///
/// The forward pass (`ErnieForward`) is written once against this protocol. All tensors are row-major 2-D
/// `[rows, columns]`; activation rows are the batch's tokens. A backend is used from one thread only (the engine
/// thread that owns it).
///
/// Step protocol: `beginStep(batch)` (uploads positions, slots and page tables), then the op calls of the forward
/// pass, then `sample` and `endStep()`. Tensors returned inside a step are valid until `endStep()`.
public protocol Backend: AnyObject {
    /// A 2-D activation on the device.
    associatedtype Tensor
    /// A weight matrix `[out, in]` (PyTorch `nn.Linear` layout) or vector on the device.
    associatedtype Weight

    /// Human-readable description of the device ("CPU (2 threads)", "NVIDIA H200 (sm_90a)").
    var deviceDescription: String { get }

    // MARK: Weights

    /// Uploads a host tensor as a weight.
    func makeWeight(_ tensor: HostTensor, precision: WeightPrecision) throws -> Weight
    /// Uploads several host tensors with the same number of columns as one weight, their rows concatenated in order
    /// (q|k|v, gate|up, or all experts of a layer stacked).
    func makeWeight(concatenatingRows parts: [HostTensor], precision: WeightPrecision) throws -> Weight
    /// Rows `rows` (in order) and columns `columns` of the random tensor of `seed` whose rows have `sourceColumns`
    /// elements (`--load-format dummy`): a `[Σ rows.count, columns.count]` weight (`[n]` when `vector`: one column)
    /// whose element `(r, c)` is `DummyWeights.value(seed, index: row(r) · sourceColumns + columns.lowerBound + c)`,
    /// `row(r)` the `r`-th row of the concatenated ranges. One tensor-parallel rank's slice of a dummy weight is
    /// generated where it lives, without the rest of the tensor.
    func makeRandomWeight(
        rows: [Range<Int>], columns: Range<Int>, sourceColumns: Int, vector: Bool, precision: WeightPrecision,
        scale: Float, seed: UInt64
    ) throws -> Weight

    // MARK: KV cache

    /// Bytes one page occupies across all layers.
    func kvBytesPerPage(pageSize: Int, numLayers: Int, numKVHeads: Int, headDim: Int) -> Int
    /// Allocates the paged KV cache. Called once, before the first step.
    func allocateKVCache(_ layout: KVCacheLayout) throws

    // MARK: One step

    func beginStep(_ batch: ForwardBatch) throws
    /// `table[tokens[i]]` for every token of the step.
    func embed(_ table: Weight) throws -> Tensor
    /// `residual' = residual + x` (or `x` when `residual` is nil) and `normed = rmsnorm(residual') * weight`.
    func addRMSNorm(_ x: Tensor, residual: Tensor?, weight: Weight, eps: Float) throws -> (normed: Tensor, residual: Tensor)
    /// `x · wᵀ (+ bias)`.
    func linear(_ x: Tensor, _ weight: Weight, bias: Weight?) throws -> Tensor
    /// Interleaved RoPE on q and k of the fused `[T, (nq + 2·nkv)·hd]` projection, K/V written to the step's slots
    /// of layer `layer`, then causal GQA attention over each sequence's pages. Returns `[T, nq·hd]`.
    func attention(qkv: Tensor, layer: Int, shape: AttentionShape) throws -> Tensor
    /// `silu(x[:, :I]) * x[:, I:]` for the fused `[T, 2I]` gate|up projection.
    func siluAndMul(_ gateUp: Tensor) throws -> Tensor
    /// The whole MoE block: FP32 router, softmax, top-k on probabilities + correction bias, renormalised unbiased
    /// weights, routed SwiGLU experts, plus the shared-expert MLP when present.
    func moe(_ x: Tensor, weights: MoEWeights<Weight>, shape: MoEShape) throws -> Tensor
    /// Rows `indices` of `x`, in that order.
    func gatherRows(_ x: Tensor, indices: [Int]) throws -> Tensor
    /// Samples or scores each request against row `i` of `logits` (row i answers `requests[i]`).
    func sample(_ logits: Tensor, requests: [LogitsRequest]) throws -> [TokenResult]
    func endStep() throws

    // MARK: Inspection (tests, layer-by-layer comparisons)

    /// Copies a tensor to the host as Float.
    func toHost(_ x: Tensor) throws -> [Float]

    /// Called once per model with an MoE block, after its weights are loaded (`hidden`: the model's width): the
    /// backend may plan the block's per-expert work for every step size ahead. Default: nothing.
    func prepareMoE(_ shape: MoEShape, hidden: Int) throws

    // MARK: Capabilities

    /// Whether `moe` honours `MoEShape.expertRange` (expert parallelism, `--ep-size`). Default: false.
    var supportsExpertParallelism: Bool { get }
}

extension Backend {
    public var supportsExpertParallelism: Bool { false }

    public func prepareMoE(_ shape: MoEShape, hidden: Int) throws {}

    /// A random weight of the given `[rows, columns]` (or `[n]`) shape for `--load-format dummy`: the whole tensor of
    /// `seed`.
    public func makeRandomWeight(shape: [Int], precision: WeightPrecision, scale: Float, seed: UInt64) throws -> Weight {
        let rows = shape.first ?? 0
        let columns = shape.count == 1 ? 1 : shape.dropFirst().reduce(1, *)
        return try makeRandomWeight(
            rows: [0..<rows], columns: 0..<columns, sourceColumns: columns, vector: shape.count == 1,
            precision: precision, scale: scale, seed: seed)
    }
}
