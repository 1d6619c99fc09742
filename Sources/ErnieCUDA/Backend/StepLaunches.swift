/// Bytes and floating-point operations one launch moves and does (the fewest possible: each input read once, each
/// output written once), for the profile's achieved bandwidth and FLOP rate.
public struct OpCost: Sendable, Equatable {
    public var bytes: Double
    public var flops: Double

    public init(bytes: Double = 0, flops: Double = 0) {
        self.bytes = bytes
        self.flops = flops
    }

    public static let zero = OpCost()

    /// A GEMM `[m, k] · [n, k]ᵀ → [m, n]` in bf16: operands and result once, 2mnk FLOPs.
    static func gemm(m: Int, n: Int, k: Int, outputBytes: Int = 2) -> OpCost {
        OpCost(
            bytes: Double(n * k * 2 + m * k * 2 + m * n * outputBytes), flops: 2 * Double(m) * Double(n) * Double(k)
        )
    }
}

/// One kernel launch or library call of a step: how to issue it on a stream, and a signature that identifies it
/// exactly (function, launch shape, every argument value), so a replayed graph can be checked against the launches
/// the current step would have made.
struct QueuedLaunch {
    var signature: [UInt64]
    var label: String
    var cost: OpCost
    /// Issues the work on `stream`; `capturing` is true while a graph is being captured (no waiting allowed).
    var run: (_ stream: CUDAStream, _ capturing: Bool) throws -> Void
}

/// The launches of one decode step of batch bucket `bucket` (from the embedding to the last layer), and the graph
/// captured from them.
final class DecodeGraphRecording {
    let bucket: Int
    var launches: [QueuedLaunch] = []
    var graph: CUDAGraph?

    init(bucket: Int) {
        self.bucket = bucket
    }
}

/// How the launches of the current step's body (the model from the embedding to the last layer) are issued.
enum BodyMode {
    /// Straight onto the stream.
    case eager
    /// Onto the stream, and kept to be captured as a graph when the body ends.
    case recording(DecodeGraphRecording)
    /// The graph was launched when the step began; each launch is only compared with the recording (and kept, to be
    /// run eagerly after all if a later one differs).
    case replaying(DecodeGraphRecording)
    /// A replay in a tensor-parallel group whose launches stopped matching the recording: the rest of the body's
    /// launches are only kept; whether every rank runs the step eagerly after the graph is agreed when the body ends.
    case diverged(DecodeGraphRecording)
}

/// Counters of the decode-graph machinery (reported by `ernie cuda bench` and the profile).
public struct GraphStatistics: Sendable, Equatable {
    /// Graphs captured (one per batch bucket, again after an invalidation).
    public var captures = 0
    /// Steps whose body ran as a graph.
    public var replays = 0
    /// Replays whose launches did not match the recording (the step's body was then run eagerly).
    public var fallbacks = 0
    /// Steps that could not be recorded (an op without a graph-safe path, or a capture error).
    public var notGraphable = 0
    /// Decode steps run eagerly (graphs off, or batch above the largest bucket).
    public var eagerDecodeSteps = 0
    /// Steps where the ranks of a tensor-parallel group disagreed about recording, capturing or replaying (the
    /// bucket then runs eagerly on every rank).
    public var groupDisagreements = 0

    public var summary: String {
        "graphs: \(captures) captured, \(replays) replayed, \(fallbacks) fallbacks, \(notGraphable) not graphable, "
            + "\(eagerDecodeSteps) eager decode steps"
            + (groupDisagreements > 0 ? ", \(groupDisagreements) rank disagreements" : "")
    }
}

/// Mutable launch state of a backend (one step at a time, one thread).
final class LaunchState {
    var mode: BodyMode = .eager
    /// Whether an op of the step's body is executing (launches outside body ops end the body).
    var inBodyOp = false
    /// Replay: index of the next expected launch, and the launches seen so far.
    var cursor = 0
    var pending: [QueuedLaunch] = []
    /// Recordings with a captured graph, by bucket.
    var graphs: [Int: DecodeGraphRecording] = [:]
    /// Buckets whose step could not be recorded (they run eagerly).
    var notGraphable: Set<Int> = []
    /// Arena generation and KV-cache epoch the graphs were captured against.
    var graphsArenaGeneration = -1
    var graphsEpoch = -1
    var statistics = GraphStatistics()
    /// First capture error, for reports.
    var captureError: String?
    /// The group's agreement on graph decisions when this backend is a rank of a tensor-parallel group.
    var agreement: GraphAgreement?
    /// The bucket whose end-of-body agreement is due (set when the ranks agreed to record or replay it).
    var agreedBucket: Int?
    /// Whether this step's replay fell back in the middle of the body (a host round trip).
    var fellBackInBody = false
    /// Where eager launches go instead of the backend's stream (an expert stream, `CUDABackend.perExpert`), or nil.
    var lane: CUDAStream?
}
