/// Which part of the model one rank of a tensor-parallel group holds.
///
/// Sharding (Megatron-style, as vLLM and SGLang shard ERNIE-4.5):
/// - attention: query heads split evenly over the `tpSize` ranks; KV heads split the same way when there are at
///   least as many as ranks, else each KV head is replicated on `tpSize / numKVHeads` consecutive ranks (the ranks
///   whose query heads read it). q|k|v is column-parallel, o_proj row-parallel (its bias on rank 0 only);
/// - dense SwiGLU MLPs and the shared experts: gate|up column-parallel, down row-parallel (bias on rank 0 only);
/// - routed experts: partitioned over `epSize` expert groups (expert parallelism; experts of other groups
///   contribute zero), and within a group split by intermediate width over the `tpSize / epSize` ranks of the group
///   (tensor parallelism); `epSize == 1` is pure tensor-parallel MoE, `epSize == tpSize` pure expert parallelism;
/// - router, correction bias, norms and the embedding: replicated;
/// - LM head: split by vocabulary rows into `tpSize` shards of `vocabShardRows` rows (the last ones padded with
///   zero rows), logits gathered back to full rows before sampling.
///
/// One all-reduce (sum) follows o_proj and one follows each MLP/MoE block.
public struct ParallelLayout: Sendable, Equatable {
    public let rank: Int
    public let tpSize: Int
    public let epSize: Int

    /// Query heads of this rank.
    public let headRange: Range<Int>
    /// KV heads of this rank.
    public let kvHeadRange: Range<Int>
    /// Columns of `intermediate_size` (dense layers) this rank holds.
    public let denseWidthRange: Range<Int>
    /// Routed experts this rank holds (all of them without expert parallelism).
    public let expertRange: Range<Int>
    /// Columns of `moe_intermediate_size` this rank holds of each of its experts.
    public let expertWidthRange: Range<Int>
    /// Columns of the shared-expert MLP (`moe_intermediate_size × moe_num_shared_experts`) this rank holds.
    public let sharedWidthRange: Range<Int>
    /// Vocabulary rows of the LM head this rank holds (the shard's real rows).
    public let vocabRange: Range<Int>
    /// Rows of every rank's LM-head shard (`⌈vocab / tpSize⌉`); rows past `vocabRange` are zero.
    public let vocabShardRows: Int
    /// Real (unpadded) logit columns of each rank's shard, in rank order; they add up to the vocabulary size.
    public let vocabShardWidths: [Int]

    /// Whether this rank adds the biases of row-parallel layers (exactly one rank does).
    public var holdsRowParallelBias: Bool { rank == 0 }
    /// Whether the rank holds the whole model (world size 1).
    public var isWholeModel: Bool { tpSize == 1 }

    /// The layout of a single device holding everything.
    public static func whole(_ config: ModelConfig) -> ParallelLayout {
        // A world size of 1 divides everything: nothing to validate.
        ParallelLayout(unchecked: config, rank: 0, tpSize: 1, epSize: 1)
    }

    /// The layout of `rank` in a group of `tpSize` ranks with experts partitioned over `epSize` groups.
    ///
    /// - Throws: `ParallelError.unsupportedLayout` naming the config field that does not divide.
    public init(config c: ModelConfig, rank: Int, tpSize: Int, epSize: Int = 1) throws {
        try Self.validate(config: c, tpSize: tpSize, epSize: epSize)
        guard rank >= 0, rank < tpSize else {
            throw ParallelError.unsupportedLayout("rank \(rank) outside 0..<\(tpSize)")
        }
        self.init(unchecked: c, rank: rank, tpSize: tpSize, epSize: epSize)
    }

    private init(unchecked c: ModelConfig, rank: Int, tpSize: Int, epSize: Int) {
        self.rank = rank
        self.tpSize = tpSize
        self.epSize = epSize
        headRange = Self.part(c.numAttentionHeads, rank, tpSize)
        if c.numKeyValueHeads >= tpSize {
            kvHeadRange = Self.part(c.numKeyValueHeads, rank, tpSize)
        } else {
            let head = rank / (tpSize / c.numKeyValueHeads)
            kvHeadRange = head..<(head + 1)
        }
        denseWidthRange = Self.part(c.intermediateSize, rank, tpSize)
        if let moe = c.moe {
            let groupRanks = tpSize / epSize
            expertRange = Self.part(moe.numExperts, rank / groupRanks, epSize)
            expertWidthRange = Self.part(moe.intermediateSize, rank % groupRanks, groupRanks)
            sharedWidthRange = Self.part(moe.intermediateSize * moe.numSharedExperts, rank, tpSize)
        } else {
            expertRange = 0..<0
            expertWidthRange = 0..<0
            sharedWidthRange = 0..<0
        }
        let shard = (c.vocabSize + tpSize - 1) / tpSize
        vocabShardRows = shard
        vocabShardWidths = (0..<tpSize).map { r in max(0, min(shard, c.vocabSize - r * shard)) }
        let start = min(rank * shard, c.vocabSize)
        vocabRange = start..<min(start + shard, c.vocabSize)
    }

    /// Even part `index` of `0..<total` split `parts` ways (callers checked divisibility).
    private static func part(_ total: Int, _ index: Int, _ parts: Int) -> Range<Int> {
        let size = total / parts
        return (index * size)..<((index + 1) * size)
    }

    /// Checks that `config` can be split over `tpSize` ranks with `epSize` expert groups.
    public static func validate(config c: ModelConfig, tpSize: Int, epSize: Int) throws {
        guard tpSize >= 1 else { throw ParallelError.unsupportedLayout("the tensor-parallel size must be at least 1") }
        guard epSize >= 1 else { throw ParallelError.unsupportedLayout("the expert-parallel size must be at least 1") }
        if let problem = problems(config: c, tpSize: tpSize, epSize: epSize).first {
            var text = problem
            if epSize == 1 {
                let sizes = supportedTensorParallelSizes(config: c, upTo: max(64, tpSize))
                text += "; tensor-parallel sizes this model supports: "
                    + sizes.map(String.init).joined(separator: ", ")
            }
            throw ParallelError.unsupportedLayout(text)
        }
    }

    /// Tensor-parallel sizes up to `limit` that `config` supports without expert parallelism.
    public static func supportedTensorParallelSizes(config: ModelConfig, upTo limit: Int) -> [Int] {
        (1...max(1, limit)).filter { problems(config: config, tpSize: $0, epSize: 1).isEmpty }
    }

    /// Every reason `config` cannot be split this way (empty when it can).
    static func problems(config c: ModelConfig, tpSize tp: Int, epSize ep: Int) -> [String] {
        var out: [String] = []
        if c.numAttentionHeads % tp != 0 {
            out.append("num_attention_heads \(c.numAttentionHeads) is not divisible by --tp \(tp)")
        }
        let kv = c.numKeyValueHeads
        if kv >= tp ? kv % tp != 0 : tp % kv != 0 {
            out.append(
                "num_key_value_heads \(kv) with --tp \(tp): the KV heads must split evenly over the ranks or each be "
                    + "replicated on a whole number of ranks")
        }
        let hasDenseLayer = (0..<c.numHiddenLayers).contains { !c.isMoELayer($0) }
        if hasDenseLayer, c.intermediateSize % tp != 0 {
            out.append("intermediate_size \(c.intermediateSize) is not divisible by --tp \(tp)")
        }
        guard let moe = c.moe else {
            if ep != 1 { out.append("--ep-size \(ep) needs a MoE model; this one is dense") }
            return out
        }
        if tp % ep != 0 {
            out.append("--ep-size \(ep) must divide --tp \(tp) (experts are partitioned over groups of ranks)")
            return out
        }
        if moe.numExperts % ep != 0 {
            out.append("moe_num_experts \(moe.numExperts) is not divisible by --ep-size \(ep)")
        }
        let groupRanks = tp / ep
        if moe.intermediateSize % groupRanks != 0 {
            out.append(
                "moe_intermediate_size \(moe.intermediateSize) is not divisible by the \(groupRanks) rank(s) that "
                    + "split each expert (--tp \(tp) / --ep-size \(ep))")
        }
        let shared = moe.intermediateSize * moe.numSharedExperts
        if shared % tp != 0 {
            out.append("the shared experts' width \(shared) is not divisible by --tp \(tp)")
        }
        return out
    }
}
