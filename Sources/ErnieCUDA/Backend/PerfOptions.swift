/// Switches for the CUDA backend's fast paths, each of which can be turned off to measure it against the path it
/// replaced (A/B in one run) or to fall back when it misbehaves. Read from the environment by default:
///
/// | variable | default | effect when off / other value |
/// | --- | --- | --- |
/// | `ERNIE_CUDA_GRAPHS` | 1 | 0: decode steps launch every kernel eagerly (no CUDA graphs, no padding to buckets) |
/// | `ERNIE_CUDA_GRAPH_MAX_BATCH` | 256 | largest decode batch run through a graph |
/// | `ERNIE_CUDA_GEMV_MAX_ROWS` | 0 | linear layers with at most this many rows use the skinny tensor-core GEMM (at most 64); off by
///   default because cuBLASLt measured 0.1–0.4 ms per decode step faster on the H200 (BENCHMARKS.md, rounds 2 and 3) |
/// | `ERNIE_CUDA_GEMM_TUNE` | 0 | 1: dense projections of at most 256 rows use the fastest of cuBLASLt's first 8 heuristic
///   algorithms, timed once per shape (cold L2) on the first eager call, instead of the first (the first version,
///   timed with the weight hot in L2, picked slower kernels: BENCHMARKS.md round 5) |
/// | `ERNIE_CUDA_GEMM_SHARED_ALGOS` | 0 | 1: GEMMs of more than 64 rows use the cuBLASLt algorithm chosen for their bucket
///   (rows rounded up to a multiple of 64) instead of a heuristic query per new shape (a prompt of a new length gives
///   the host-grouped MoE ≈ 100 GEMMs of new shapes per layer); not yet measured on a GPU, so off |
/// | `ERNIE_CUDA_GEMM_PREPARE` | 1 | 0: a host-grouped MoE step's per-expert GEMMs ask cuBLASLt's heuristic for each row count
///   the first time it occurs instead of every row count being asked at model load (`CUDABackend.prepareMoE`; row
///   counts follow each prompt's routing, so every new prompt paid queries of 0.15–0.4 ms on the host: a new
///   2048-token prompt's prefill 107–144 ms against 47–48 ms prepared, H200, round 8) |
/// | `ERNIE_CUDA_MOE_ROUTING_OVERLAP` | 1 | 0: a host-grouped MoE step queues the shared expert's GEMMs before the copy of the
///   top-k ids to the host, so the host waits for them too, instead of after it (they then run while the host plans:
///   8192-token prefill 150 → 144 ms on the H200, BENCHMARKS.md round 8) |
/// | `ERNIE_CUDA_MOE_EXPERT_STREAMS` | 4 | streams (1–8) a host-grouped MoE step's per-expert GEMMs are spread over
///   (`ExpertStreams`); 1: all on the backend's stream, one after another |
/// | `ERNIE_CUDA_MOE_EXPERT_STREAMS_MIN_TOKENS` | 4096 | smallest step whose per-expert GEMMs use those streams. On the H200
///   they took an 8192-token prefill from 127.7 to 121.7 ms and 4096 tokens from 75.7 to 72.3, did nothing measurable
///   at 2048 or 640; but the server's decode steps after prefills on them measured 3.07–3.10 against 3.01–3.02 ms per
///   token (1K/1K, one stream; cause not found: not the streams' lifetime, not the decode kernels) |
/// | `ERNIE_CUDA_MOE_EXPERT_STREAMS_KEEP` | 0 | 1: those streams are kept from step to step instead of being made for
///   each host-grouped step and destroyed at its end |
/// | `ERNIE_CUDA_MOE_ROUTER_GEMM` | 1 | 0: a host-grouped MoE step's router logits come from the 64 × 64-tiled FP32 kernel
///   instead of a bf16 tensor-core GEMM over the router split into three bf16 parts (`ernie_moe_router_split`: the
///   same FP32 logits to summation error) |
/// | `ERNIE_CUDA_MOE_GROUPED_MAX_TOKENS` | 256 | MoE steps with at most this many tokens route and group on the device
///   (0: the previous paths, including the one-block-per-token router for larger steps). Up to 4096 / top-k tokens
///   (682 for ERNIE's top-6) fit the grouped kernels: prefills of 257–682 tokens then skip the host round trip too
///   (not measured yet) |
/// | `ERNIE_CUDA_MOE_PERSISTENT` | 1 | 0: the grouped expert kernels get one block per work item instead of persistent blocks that
///   overlap the next item's weight loads with the current item's reduction |
/// | `ERNIE_CUDA_MOE_STAGED` | 1 | 0: the grouped expert kernels of 8 or 16 tokens per pass load their weights straight
///   into mma fragments (registers) instead of streaming them through a per-warp shared-memory ring in whole 128-byte
///   row pieces (`Kernels/moe_staged.cu`). Steps that take 32 tokens per pass (NT 4) use the register kernels (staged:
///   slower there) |
/// | `ERNIE_CUDA_MOE_NT1_MAX_TOKENS` | 16 | grouped MoE steps of at most this many tokens (at least 8) take 8 tokens of a slot
///   per pass over its weight rows (NT 1); a slot with more (the shared expert's chunks hold every token) takes
///   several passes, the later ones from L2. 16 measured 11.2 → 10.7 ms per batch-16 step on the H200 against NT 2
///   (BENCHMARKS.md round 7) |
/// | `ERNIE_CUDA_MOE_NT2_MAX_TOKENS` | 64 | larger steps of at most this many tokens (at least 16) take 16 tokens per pass
///   (NT 2), larger ones 32 (NT 4, the register kernels). 64 measured 17.6 → 17.0 ms per batch-64 step against NT 4
///   (round 7); 8 and 16 give the kernels of rounds 1–6 |
/// | `ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS` | 16 | grouped MoE steps of at least this many tokens run their expert kernels on
///   the warpgroup MMA (`Kernels/moe_wgmma.cu`, sm_90a: 64 weight rows per work item, up to 64 tokens of a slot per
///   pass, no cross-warp reduction) instead of the NT kernels above; 0: never. On the H200 (BENCHMARKS.md round 10)
///   decode ms per step at batch 16 / 32 / 64 / 128 / 256: 10.6 / 13.4 / 16.9 / 23.1 / 34.5 → 10.4 / 12.4 / 13.3 /
///   16.0 / 21.6, then 10.05 / 11.95 / 13.15 / 15.15 / 20.05 with fewer instructions per unit; slower below 16 tokens
///   (batch 1 / 8: 3.0 / 7.6 → 3.2 / 8.0) |
/// | `ERNIE_CUDA_MOE_BATCHED` | 0 | 1: large MoE steps (grouped on the host) run one strided-batched cuBLASLt GEMM per
///   direction over every expert, rows padded to the largest expert's count (when at least
///   `MoEPlan.minimumBatchedFill` of the rows are real), instead of one GEMM per active expert (no gain measured on the
///   H200's 8192-token prefill: 157.8 ms without, 159.8 with; BENCHMARKS.md round 5) |
/// | `ERNIE_CUDA_DECODE_ATTENTION` | 1 | 0: decode steps use the general attention kernel (host-planned splits) |
/// | `ERNIE_CUDA_DECODE_ATTENTION_TC` | 1 | 0: decode attention for head_dim 128 on CUDA cores instead of tensor cores
///   (tensor cores measured 25.6 → 22.1 ms per batch-64 step at context 4096 on the H200, BENCHMARKS.md round 5) |
/// | `ERNIE_CUDA_DECODE_ROPE_FUSED` | 1 | 0: decode steps on the tensor-core decode kernel rotate q and write the token's
///   K/V in a separate launch per layer (`ernie_rope_kv_write_fast`) instead of inside the decode kernel
///   (`ernie_decode_attention_tc_rope_hd128`: one launch per layer less; on the H200 3.0 / 7.6 / 11.1 / 17.6 against
///   3.0 / 7.7 / 11.1 / 17.7 ms per step at context 512, batch 1 / 8 / 16 / 64, and 307.6 against 302.6 tokens/s at
///   context 4096, batch 1) |
/// | `ERNIE_CUDA_DECODE_MIN_CHUNK` | 64 | fewest keys per split of the decode attention kernels (16–4096): at context 512
///   and batch 1, 64 gives 8 splits per KV head and 128 gives 4 (fewer partial results to merge, longer blocks) |
/// | `ERNIE_CUDA_FAST_ELEMENTWISE` | 1 | 0: the scalar RoPE (sin/cos per element), RMSNorm and SiLU·mul kernels |
/// | `ERNIE_CUDA_FLASH_PREFILL` | 1 | 0: prefill attention on CUDA cores (the general kernel) |
/// | `ERNIE_CUDA_FLASH_PREFILL_WIDE` | 1 | 0: the flash prefill kernel with 64 query rows per block (4 warps of 16)
///   instead of 128 (4 warps of 32: each K/V fragment read from shared memory feeds twice the mmas) |
/// | `ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS` | 3 | head_dim-128 prefill attention on the warpgroup MMA (wgmma, sm_90a:
///   `Kernels/prefill_attention_wgmma.cu`) with this many warpgroups of 64 packed rows per block (2 or 3; 0: the mma.sync
///   kernels below; devices without sm_90a use those anyway). On the H200 an 8192-token prefill's attention took
///   38.9 ms with the wide mma.sync kernel, 30.7 with 2 warpgroups, 25.0 with 3 (386 TFLOP/s) |
/// | `ERNIE_CUDA_PDL` | 1 | 0: no programmatic dependent launch |
public struct PerfOptions: Sendable, Equatable, CustomStringConvertible {
    public var graphs: Bool
    public var graphMaxBatch: Int
    public var gemvMaxRows: Int
    public var gemmTuning: Bool
    public var gemmSharedAlgorithms: Bool
    /// Per-expert GEMM plans made for every row count at once (`ERNIE_CUDA_GEMM_PREPARE`).
    public var gemmPrepare: Bool
    /// Shared expert queued behind the routing ids' copy to the host (`ERNIE_CUDA_MOE_ROUTING_OVERLAP`).
    public var routingOverlap: Bool
    /// Streams the per-expert GEMMs of a host-grouped MoE step run on (`ERNIE_CUDA_MOE_EXPERT_STREAMS`).
    public var moeExpertStreams: Int
    /// Smallest step whose per-expert GEMMs go to the expert streams (`ERNIE_CUDA_MOE_EXPERT_STREAMS_MIN_TOKENS`).
    public var moeExpertStreamsMinTokens: Int
    /// Expert streams kept between steps (`ERNIE_CUDA_MOE_EXPERT_STREAMS_KEEP`).
    public var keepExpertStreams: Bool
    /// Large steps' router logits as a bf16 GEMM over the router's three bf16 parts (`ERNIE_CUDA_MOE_ROUTER_GEMM`).
    public var routerGEMM: Bool
    public var groupedMoEMaxTokens: Int
    public var persistentMoE: Bool
    public var stagedMoE: Bool
    /// Largest grouped MoE steps whose expert kernels take 8 (NT 1) or 16 (NT 2) tokens per pass.
    public var moeNT1MaxTokens: Int
    public var moeNT2MaxTokens: Int
    /// Smallest grouped MoE step whose expert kernels run on the warpgroup MMA, 0: never
    /// (`ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS`).
    public var moeWarpgroupMinTokens: Int
    public var fusedDecodeRope: Bool
    public var decodeMinimumChunk: Int
    /// Fewest keys per decode split unless `ERNIE_CUDA_DECODE_MIN_CHUNK` says otherwise.
    public static let defaultDecodeMinimumChunk = 64
    public var batchedMoE: Bool
    public var decodeAttention: Bool
    public var decodeAttentionTensorCores: Bool
    public var fastElementwise: Bool
    public var flashPrefill: Bool
    public var flashPrefillWide: Bool
    /// Warpgroups per block of the wgmma prefill attention, 0: the mma.sync kernels (`ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS`).
    public var flashPrefillWarpgroups: Int
    public var programmaticDependentLaunch: Bool

    public init(
        graphs: Bool = true, graphMaxBatch: Int = 256, gemvMaxRows: Int = 0, gemmTuning: Bool = false,
        gemmSharedAlgorithms: Bool = false, gemmPrepare: Bool = true, routingOverlap: Bool = true,
        moeExpertStreams: Int = 4, moeExpertStreamsMinTokens: Int = 4096, keepExpertStreams: Bool = false,
        routerGEMM: Bool = true, groupedMoEMaxTokens: Int = 256, persistentMoE: Bool = true, stagedMoE: Bool = true,
        moeNT1MaxTokens: Int = 16, moeNT2MaxTokens: Int = 64, moeWarpgroupMinTokens: Int = 16,
        batchedMoE: Bool = false, fusedDecodeRope: Bool = true,
        decodeMinimumChunk: Int = PerfOptions.defaultDecodeMinimumChunk,
        decodeAttention: Bool = true, decodeAttentionTensorCores: Bool = true, fastElementwise: Bool = true,
        flashPrefill: Bool = true, flashPrefillWide: Bool = true, flashPrefillWarpgroups: Int = 3,
        programmaticDependentLaunch: Bool = true
    ) {
        self.graphs = graphs
        self.graphMaxBatch = graphMaxBatch
        self.gemvMaxRows = gemvMaxRows
        self.gemmTuning = gemmTuning
        self.gemmSharedAlgorithms = gemmSharedAlgorithms
        self.gemmPrepare = gemmPrepare
        self.routingOverlap = routingOverlap
        self.moeExpertStreams = moeExpertStreams
        self.moeExpertStreamsMinTokens = moeExpertStreamsMinTokens
        self.keepExpertStreams = keepExpertStreams
        self.routerGEMM = routerGEMM
        self.groupedMoEMaxTokens = groupedMoEMaxTokens
        self.persistentMoE = persistentMoE
        self.stagedMoE = stagedMoE
        self.moeNT1MaxTokens = moeNT1MaxTokens
        self.moeNT2MaxTokens = moeNT2MaxTokens
        self.moeWarpgroupMinTokens = moeWarpgroupMinTokens
        self.fusedDecodeRope = fusedDecodeRope
        self.decodeMinimumChunk = decodeMinimumChunk
        self.batchedMoE = batchedMoE
        self.decodeAttention = decodeAttention
        self.decodeAttentionTensorCores = decodeAttentionTensorCores
        self.fastElementwise = fastElementwise
        self.flashPrefill = flashPrefill
        self.flashPrefillWide = flashPrefillWide
        self.flashPrefillWarpgroups = Self.supportedWarpgroups(flashPrefillWarpgroups)
        self.programmaticDependentLaunch = programmaticDependentLaunch
    }

    /// `warpgroups` if the wgmma prefill kernels come with that many (2 or 3), else 0 (the mma.sync kernels).
    static func supportedWarpgroups(_ warpgroups: Int) -> Int { [2, 3].contains(warpgroups) ? warpgroups : 0 }

    /// Every fast path off: the kernels and cuBLASLt calls the backend used before them (the reference path).
    public static let reference = PerfOptions(
        graphs: false, gemvMaxRows: 0, gemmTuning: false, gemmSharedAlgorithms: false, gemmPrepare: false,
        routingOverlap: false, moeExpertStreams: 1, routerGEMM: false,
        groupedMoEMaxTokens: 0,
        persistentMoE: false, stagedMoE: false, moeWarpgroupMinTokens: 0, batchedMoE: false, fusedDecodeRope: false,
        decodeAttention: false,
        decodeAttentionTensorCores: false, fastElementwise: false, flashPrefill: false, flashPrefillWide: false,
        flashPrefillWarpgroups: 0,
        programmaticDependentLaunch: false
    )

    /// The defaults overridden by the `ERNIE_CUDA_*` variables above.
    public static func environment(_ environment: [String: String]) -> PerfOptions {
        var options = PerfOptions()
        func flag(_ name: String, _ value: inout Bool) {
            if let text = environment[name] { value = !["0", "false", "no", "off"].contains(text.lowercased()) }
        }
        func number(_ name: String, _ value: inout Int, range: ClosedRange<Int>) {
            if let text = environment[name], let n = Int(text) { value = min(max(n, range.lowerBound), range.upperBound) }
        }
        flag("ERNIE_CUDA_GRAPHS", &options.graphs)
        number("ERNIE_CUDA_GRAPH_MAX_BATCH", &options.graphMaxBatch, range: 1...StepBuffers.smallCapacity)
        number("ERNIE_CUDA_GEMV_MAX_ROWS", &options.gemvMaxRows, range: 0...64)
        flag("ERNIE_CUDA_GEMM_TUNE", &options.gemmTuning)
        flag("ERNIE_CUDA_GEMM_SHARED_ALGOS", &options.gemmSharedAlgorithms)
        flag("ERNIE_CUDA_GEMM_PREPARE", &options.gemmPrepare)
        flag("ERNIE_CUDA_MOE_ROUTING_OVERLAP", &options.routingOverlap)
        number("ERNIE_CUDA_MOE_EXPERT_STREAMS", &options.moeExpertStreams, range: 1...8)
        flag("ERNIE_CUDA_MOE_EXPERT_STREAMS_KEEP", &options.keepExpertStreams)
        number("ERNIE_CUDA_MOE_EXPERT_STREAMS_MIN_TOKENS", &options.moeExpertStreamsMinTokens, range: 0...(1 << 20))
        flag("ERNIE_CUDA_MOE_ROUTER_GEMM", &options.routerGEMM)
        number("ERNIE_CUDA_MOE_GROUPED_MAX_TOKENS", &options.groupedMoEMaxTokens, range: 0...GroupedMoEPlan.maxPairs)
        flag("ERNIE_CUDA_MOE_PERSISTENT", &options.persistentMoE)
        flag("ERNIE_CUDA_MOE_STAGED", &options.stagedMoE)
        number("ERNIE_CUDA_MOE_NT1_MAX_TOKENS", &options.moeNT1MaxTokens, range: 8...GroupedMoEPlan.maxPairs)
        number("ERNIE_CUDA_MOE_NT2_MAX_TOKENS", &options.moeNT2MaxTokens, range: 16...GroupedMoEPlan.maxPairs)
        number("ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS", &options.moeWarpgroupMinTokens, range: 0...GroupedMoEPlan.maxPairs)
        flag("ERNIE_CUDA_MOE_BATCHED", &options.batchedMoE)
        flag("ERNIE_CUDA_DECODE_ATTENTION", &options.decodeAttention)
        flag("ERNIE_CUDA_DECODE_ATTENTION_TC", &options.decodeAttentionTensorCores)
        flag("ERNIE_CUDA_DECODE_ROPE_FUSED", &options.fusedDecodeRope)
        number("ERNIE_CUDA_DECODE_MIN_CHUNK", &options.decodeMinimumChunk, range: 16...4096)
        flag("ERNIE_CUDA_FAST_ELEMENTWISE", &options.fastElementwise)
        flag("ERNIE_CUDA_FLASH_PREFILL", &options.flashPrefill)
        flag("ERNIE_CUDA_FLASH_PREFILL_WIDE", &options.flashPrefillWide)
        number("ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS", &options.flashPrefillWarpgroups, range: 0...3)
        options.flashPrefillWarpgroups = supportedWarpgroups(options.flashPrefillWarpgroups)
        flag("ERNIE_CUDA_PDL", &options.programmaticDependentLaunch)
        return options
    }

    public var description: String {
        let split = decodeMinimumChunk != Self.defaultDecodeMinimumChunk ? " (≥ \(decodeMinimumChunk) keys per split)" : ""
        return "graphs \(graphs ? "≤\(graphMaxBatch)" : "off"), gemv \(gemvMaxRows > 0 ? "≤\(gemvMaxRows) rows" : "off"), "
            + "GEMM tuning \(gemmTuning ? "on" : "off"), "
            + "shared GEMM algorithms \(gemmSharedAlgorithms ? "on" : "off"), "
            + "expert GEMM plans \(gemmPrepare ? "prepared" : "on first use"), "
            + "shared expert \(routingOverlap ? "behind" : "before") the routing copy, "
            + "expert GEMMs on \(moeExpertStreams) stream\(moeExpertStreams == 1 ? "" : "s (from \(moeExpertStreamsMinTokens) tokens)"), "
            + "large-step router \(routerGEMM ? "on tensor cores (3 bf16 parts)" : "fp32 tiles"), "
            + "grouped MoE \(groupedMoEMaxTokens > 0 ? "≤\(groupedMoEMaxTokens) tokens" : "off")"
            + "\(groupedMoEMaxTokens > 0 && !persistentMoE ? " (one block per item)" : "")"
            + "\(groupedMoEMaxTokens > 0 && stagedMoE ? " (weights staged in shared memory)" : "")"
            + "\(groupedMoEMaxTokens > 0 ? " (8 / 16 tokens per pass up to \(moeNT1MaxTokens) / \(moeNT2MaxTokens))" : "")"
            + "\(groupedMoEMaxTokens > 0 && moeWarpgroupMinTokens > 0 ? " (wgmma from \(moeWarpgroupMinTokens) tokens)" : ""), "
            + "batched MoE GEMMs \(batchedMoE ? "on" : "off"), "
            + "decode attention \(decodeAttention ? (decodeAttentionTensorCores ? "on, tensor cores" : "on") : "off")"
            + "\(decodeAttention && decodeAttentionTensorCores && fusedDecodeRope ? " with RoPE" : "")"
            + "\(decodeAttention ? split : ""), "
            + "fast elementwise \(fastElementwise ? "on" : "off"), "
            + "flash prefill \(flashPrefill ? (flashPrefillWarpgroups > 0 ? "on, wgmma × \(flashPrefillWarpgroups) warpgroups" : flashPrefillWide ? "on, 128 rows" : "on, 64 rows") : "off"), "
            + "PDL \(programmaticDependentLaunch ? "on" : "off")"
    }

    /// The batch buckets decode graphs are captured for: 1, 2, 4, 8, then every 8 up to `graphMaxBatch`.
    var graphBuckets: [Int] {
        var out = [1, 2, 4, 8].filter { $0 <= graphMaxBatch }
        var b = 16
        while b <= graphMaxBatch {
            out.append(b)
            b += 8
        }
        if let last = out.last, last < graphMaxBatch { out.append(graphMaxBatch) }
        return out
    }

    /// The smallest bucket holding `tokens`, or nil above `graphMaxBatch`.
    func graphBucket(for tokens: Int) -> Int? { graphBuckets.first { $0 >= tokens } }
}
