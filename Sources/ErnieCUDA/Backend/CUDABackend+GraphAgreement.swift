import ErnieModel

extension CUDABackend {
    /// Whether the launches of the current step's body are recorded for, or replayed from, a CUDA graph (so they
    /// process the bucket's padded rows whatever the real batch).
    var bodyRunsAsGraph: Bool {
        switch launchState.mode {
        case .eager: false
        case .recording, .replaying, .diverged: true
        }
    }

    /// Makes this backend a rank of a tensor-parallel group whose decode-graph decisions are compared through
    /// `rendezvous` (one party per rank, used for nothing else).
    func joinGraphAgreement(rendezvous: RankRendezvous, rank: Int) {
        launchState.agreement = GraphAgreement(rendezvous: rendezvous, rank: rank)
    }

    /// Destroys every captured decode graph now (before the NCCL communicator whose collectives they captured is
    /// destroyed: NCCL waits for them).
    func releaseGraphs() {
        launchState.mode = .eager
        launchState.pending = []
        launchState.graphs.removeAll()
        invalidateGraphs()
    }

    /// The end-of-body comparison of a tensor-parallel group: keeps a captured graph only when every rank captured
    /// one, and runs a replayed step eagerly on every rank when any rank's launches stopped matching.
    func agree(on outcome: BodyOutcome, bucket: Int, _ agreement: GraphAgreement) throws {
        let all = Set(try agreement.values(outcome.rawValue).map { BodyOutcome(rawValue: $0) })
        if all.count == 1 {
            if case let .diverged(recording) = launchState.mode { try fallBack(recording) }
            return
        }
        launchState.statistics.groupDisagreements += 1
        if all.isSubset(of: [.eager, .captured]) {
            // Every rank ran the step eagerly while recording; the graphs some of them captured are not usable.
            launchState.graphs[bucket] = nil
            launchState.notGraphable.insert(bucket)
            return
        }
        if all.isSubset(of: [.replayed, .diverged]) {
            // Every rank launched its graph; now every rank runs the step's launches eagerly after it.
            switch launchState.mode {
            case let .replaying(recording), let .diverged(recording):
                try fallBack(recording)
            case .eager, .recording:
                break
            }
            return
        }
        // Some ranks re-ran collectives in the middle of the body and others did not: the group's collectives no
        // longer pair up.
        launchState.mode = .eager
        launchState.pending = []
        let names = all.map { $0.map { "\($0)" } ?? "unknown" }.sorted().joined(separator: ", ")
        throw ParallelError.groupBroken(
            "the ranks' CUDA graph replays diverged in decode bucket \(bucket) (outcomes: \(names)); "
                + "run with ERNIE_CUDA_GRAPHS=0")
    }
}
