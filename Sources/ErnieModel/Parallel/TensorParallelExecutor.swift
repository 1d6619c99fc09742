import Foundation
import Synchronization

/// Runs a model split over several ranks (tensor parallelism), one thread per rank, behind the single-executor
/// interface the runtime drives: the engine keeps one scheduler and one KV page table; each `execute` hands the same
/// step to every rank thread, waits for all of them and answers with rank 0's sampled rows.
///
/// Each rank's executor (usually an `ErnieForward` with a `TensorParallelRank`) is built on its own thread by
/// `makeRank`, so a GPU backend is created, used and released on one thread. The ranks meet in their communicator's
/// collectives during a step; if one rank fails, it aborts the group so that no peer waits forever, the step throws
/// `ParallelError.rankFailed`, and every later step throws `ParallelError.groupBroken` (a collective may have been
/// left half done, so the shards' states can no longer be trusted).
public final class TensorParallelExecutor: ModelExecutor {
    /// What a rank's builder gets: its rank and a way to agree with its peers while starting up.
    public struct RankSetup: Sendable {
        public let rank: Int
        public let worldSize: Int
        let rendezvous: RankRendezvous

        /// Waits for every rank to call it and returns the smallest `value` (e.g. the KV pages every device can
        /// hold). Throws when another rank failed to start.
        public func agreeOnMinimum(_ value: Int) throws -> Int {
            try rendezvous.exchange(rank: rank, [value]).compactMap(\.first).min() ?? value
        }

        /// Waits for every rank (e.g. before a collective initialisation that would block on a rank that died).
        public func barrier() throws {
            try rendezvous.barrier(rank: rank)
        }
    }

    public let config: ModelConfig
    /// Rank 0's KV cache; every rank has the same pages (each holding its own KV heads).
    public let kvLayout: KVCacheLayout
    public let deviceDescription: String
    public let worldSize: Int
    /// KV-cache layout of every rank, in rank order.
    public let rankLayouts: [KVCacheLayout]
    private let workers: [RankWorker]
    private var broken: String?

    /// Starts `worldSize` rank threads and builds each rank's executor there; returns when all are ready.
    ///
    /// - Throws: `ParallelError.rankFailed` with the first rank's own error when any rank fails to start (the others
    ///   are stopped and released).
    public init(
        worldSize: Int, makeRank: @escaping @Sendable (RankSetup) throws -> any ParallelRankExecutor
    ) throws {
        guard worldSize >= 1 else { throw ParallelError.unsupportedLayout("a group needs at least one rank") }
        self.worldSize = worldSize
        let rendezvous = RankRendezvous(parties: worldSize)
        let workers = (0..<worldSize).map { RankWorker(rank: $0) }
        for worker in workers {
            let setup = RankSetup(rank: worker.rank, worldSize: worldSize, rendezvous: rendezvous)
            let thread = Thread { worker.run(setup: setup, makeRank: makeRank) }
            thread.name = "ernie-rank-\(worker.rank)"
            thread.stackSize = 16 << 20
            thread.start()
        }
        let outcomes = workers.map { $0.awaitOutcome() }
        var reports: [RankWorker.Report] = []
        for outcome in outcomes {
            if case .ready(let report) = outcome { reports.append(report) }
        }
        if let failure = Self.rootCause(outcomes) {
            Self.stop(zip(workers, outcomes).compactMap { worker, outcome in
                if case .ready = outcome { return worker }
                return nil
            })
            throw failure
        }
        let first = reports[0]
        for (rank, report) in reports.enumerated()
        where report.kvLayout.numPages != first.kvLayout.numPages || report.kvLayout.pageSize != first.kvLayout.pageSize
        {
            Self.stop(workers)
            throw ParallelError.unsupportedLayout(
                "rank \(rank) allocated \(report.kvLayout.numPages) KV pages of \(report.kvLayout.pageSize) but rank 0 "
                    + "\(first.kvLayout.numPages) of \(first.kvLayout.pageSize)")
        }
        self.workers = workers
        config = first.config
        kvLayout = first.kvLayout
        rankLayouts = reports.map(\.kvLayout)
        let descriptions = reports.map(\.deviceDescription)
        deviceDescription = Set(descriptions).count == 1
            ? "\(worldSize) × \(first.deviceDescription), tensor-parallel"
            : "tensor-parallel over " + descriptions.joined(separator: "; ")
    }

    deinit {
        Self.stop(workers)
    }

    /// Stops the rank threads together: releasing a rank's executor may wait for its peers (an NCCL communicator's
    /// teardown), so every rank is told to stop before any is waited for.
    private static func stop(_ workers: [RankWorker]) {
        let stopping = workers.filter { $0.requestStop() }
        for worker in stopping { _ = worker.awaitOutcome() }
    }

    public func execute(_ batch: ForwardBatch, logits requests: [LogitsRequest]) throws -> [TokenResult] {
        if let broken { throw ParallelError.groupBroken(broken) }
        // Invalid input is refused here, before any rank starts a collective.
        try batch.validate(vocabSize: config.vocabSize, layout: kvLayout)
        for r in requests {
            guard r.tokenIndex >= 0, r.tokenIndex < batch.tokens.count else {
                throw ModelError.invalidBatch("logits requested for token \(r.tokenIndex) of \(batch.tokens.count)")
            }
        }
        if batch.tokens.isEmpty { return [] }
        guard case .results(let results) = try runOnEveryRank(.step(batch, requests)) else {
            throw ParallelError.rankFailed(rank: 0, reason: "rank 0 answered no results")
        }
        return results
    }

    /// Runs `prompt` as one prefill step on every rank (`ErnieForward.captureHiddenStates(prompt:)`) and returns
    /// rank 0's residual stream at every `HiddenStatePoint`. Every rank holds the whole stream (the attention and
    /// MLP/MoE outputs are summed over the ranks before they join it). Overwrites KV pages 0, 1, ….
    public func captureHiddenStates(prompt: [Int32]) throws -> [HiddenStatePoint: HiddenStateSnapshot] {
        if let broken { throw ParallelError.groupBroken(broken) }
        // Refused here, before any rank starts a collective.
        guard !prompt.isEmpty else { throw ModelError.invalidBatch("the prompt is empty") }
        guard prompt.count <= kvLayout.capacityTokens else {
            throw ModelError.invalidBatch(
                "a prompt of \(prompt.count) tokens does not fit the KV cache (\(kvLayout.capacityTokens) tokens)")
        }
        if let bad = prompt.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw ModelError.invalidBatch("token \(bad) is outside the vocabulary of \(config.vocabSize)")
        }
        guard case .hiddenStates(let states) = try runOnEveryRank(.capture(prompt)) else {
            throw ParallelError.rankFailed(rank: 0, reason: "rank 0 answered no hidden states")
        }
        return states
    }

    /// Posts `job` to every rank and waits for all of them: rank 0's outcome, or the root cause of a failure (after
    /// which the group is broken: a rank may have stopped inside a collective).
    private func runOnEveryRank(_ job: RankWorker.Command) throws -> RankWorker.Outcome {
        for worker in workers { worker.post(job) }
        let outcomes = workers.map { $0.awaitOutcome() }
        if let failure = Self.rootCause(outcomes) {
            broken = "\(failure)"
            throw failure
        }
        return outcomes[0]
    }

    /// The error to report for a set of outcomes: the first rank's own failure (not a peer's "group broken"), or
    /// nil when every rank succeeded.
    private static func rootCause(_ outcomes: [RankWorker.Outcome]) -> ParallelError? {
        var failures: [(rank: Int, error: any Error)] = []
        for (rank, outcome) in outcomes.enumerated() {
            if case .failed(let error) = outcome { failures.append((rank, error)) }
        }
        guard !failures.isEmpty else { return nil }
        let own = failures.first { failure in
            if case ParallelError.groupBroken = failure.error { return false }
            return true
        } ?? failures[0]
        return .rankFailed(rank: own.rank, reason: "\(own.error)")
    }
}

/// One rank's thread and its mailbox.
private final class RankWorker: Sendable {
    struct Report: Sendable {
        var config: ModelConfig
        var kvLayout: KVCacheLayout
        var deviceDescription: String
    }

    enum Command: Sendable {
        case step(ForwardBatch, [LogitsRequest])
        case capture([Int32])
        case stop
    }

    enum Outcome: Sendable {
        case ready(Report)
        case results([TokenResult])
        case hiddenStates([HiddenStatePoint: HiddenStateSnapshot])
        case failed(any Error)
        case stopped
    }

    let rank: Int
    private let mailbox = Mutex<Command?>(nil)
    private let outcome = Mutex<Outcome?>(nil)
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    /// Whether the thread is running its loop (cleared once it has stopped or failed to start).
    private let alive = Mutex(true)

    init(rank: Int) {
        self.rank = rank
    }

    /// The thread body: build the rank's executor, then run commands until `.stop`.
    func run(
        setup: TensorParallelExecutor.RankSetup,
        makeRank: @Sendable (TensorParallelExecutor.RankSetup) throws -> any ParallelRankExecutor
    ) {
        if serve(setup: setup, makeRank: makeRank) {
            // The executor was released when `serve` returned, on this thread.
            alive.withLock { $0 = false }
            finish(.stopped)
        }
    }

    /// Builds the executor and runs commands until `.stop`; false when the executor could not be built.
    private func serve(
        setup: TensorParallelExecutor.RankSetup,
        makeRank: @Sendable (TensorParallelExecutor.RankSetup) throws -> any ParallelRankExecutor
    ) -> Bool {
        let model: any ParallelRankExecutor
        do {
            model = try makeRank(setup)
        } catch {
            setup.rendezvous.poison("rank \(rank) failed to start: \(error)")
            alive.withLock { $0 = false }
            finish(.failed(error))
            return false
        }
        finish(.ready(Report(config: model.config, kvLayout: model.kvLayout, deviceDescription: model.deviceDescription)))
        loop(model)
        return true
    }

    private func loop(_ model: any ParallelRankExecutor) {
        while true {
            wake.wait()
            switch mailbox.withLock({ $0.take() }) {
            case .step(let batch, let requests):
                do {
                    finish(.results(try model.execute(batch, logits: requests)))
                } catch {
                    model.abortGroup(reason: "rank \(rank): \(error)")
                    finish(.failed(error))
                }
            case .capture(let prompt):
                do {
                    finish(.hiddenStates(try model.captureHiddenStates(prompt: prompt)))
                } catch {
                    model.abortGroup(reason: "rank \(rank): \(error)")
                    finish(.failed(error))
                }
            case .stop, nil:
                return
            }
        }
    }

    private func finish(_ result: Outcome) {
        outcome.withLock { $0 = result }
        done.signal()
    }

    func post(_ command: Command) {
        mailbox.withLock { $0 = command }
        wake.signal()
    }

    /// Waits for the answer to the last command (or to the start-up).
    func awaitOutcome() -> Outcome {
        done.wait()
        return outcome.withLock { $0.take() } ?? .failed(ParallelError.rankFailed(rank: rank, reason: "no answer"))
    }

    /// Tells the thread to stop (releasing the rank's executor on it); false when it is not running. Wait for it
    /// with `awaitOutcome()`.
    func requestStop() -> Bool {
        guard alive.withLock({ $0 }) else { return false }
        post(.stop)
        return true
    }
}
