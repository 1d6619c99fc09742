import ErnieModel

/// Keeps the decode-graph decisions of the ranks of a tensor-parallel group identical.
///
/// NCCL treats "captured in a graph" as a property of each collective: every rank of the communicator must capture
/// it (and later launch the graph made from that capture) or none may. Each backend decides on its own whether a
/// decode step records its launches, replays a graph or runs eagerly, so the ranks compare their decisions twice per
/// graph-eligible decode step, through a host rendezvous of the group's threads (all ranks live in one process):
///
/// - when the body begins (`CUDABackend.beginBody`): every rank proposes eager / record / replay; when the proposals
///   differ, every rank runs the step eagerly and stops graphing that batch bucket (so the states agree again);
/// - when the body ends (`CUDABackend.finishBody`): a capture is kept only if every rank captured, and a replay
///   whose launches stopped matching the recording on any rank is followed by an eager run of the step on every
///   rank (one rank re-running its collectives alone would pair them with its peers' next ones).
///
/// The decisions are made from the step's shape, which every rank shares, so disagreements are not expected; the
/// comparisons make an unexpected one harmless instead of a hang. A failed rank poisons the rendezvous
/// (`NCCLGroup.abortAll`), so a peer waiting here throws instead of waiting forever.
final class GraphAgreement {
    private let rendezvous: RankRendezvous
    let rank: Int

    init(rendezvous: RankRendezvous, rank: Int) {
        self.rendezvous = rendezvous
        self.rank = rank
    }

    /// Every rank's `value`, in rank order (waits for all of them).
    func values(_ value: Int) throws -> [Int] {
        try rendezvous.exchange(rank: rank, [value]).map { $0.first ?? Int.min }
    }
}

/// What a rank did with the body of a graph-eligible decode step, compared at its end (`GraphAgreement`).
enum BodyOutcome: Int {
    /// Ran eagerly (agreed at the start, or the recording found an op without a graph-safe path).
    case eager = 0
    /// Recorded and captured a graph.
    case captured = 1
    /// Replayed the graph; every launch matched the recording.
    case replayed = 2
    /// Replayed the graph, but the launches stopped matching: the step must run eagerly after the graph.
    case diverged = 3
    /// Replayed the graph and fell back at once (an op needed a host round trip in the middle of the body).
    case fellBackInBody = 4
}
