import Dispatch
import Synchronization

/// A request on its way from `Engine.submit` to the engine thread.
struct Submission: Sendable {
    let id: SequenceID
    let request: GenerationRequest
    let seed: UInt64
    let continuation: AsyncStream<GenerationOutput>.Continuation
}

/// What other threads ask of the engine thread.
enum EngineCommand: Sendable {
    case submit(Submission)
    /// `Engine.abort(requestID:)`.
    case abort(requestID: String)
    /// The consumer dropped the stream: end the sequence silently.
    case cancel(SequenceID)
    case flush(CheckedContinuation<Bool, Never>)
    /// Stop admitting, finish or abort what runs by the deadline, then exit.
    case shutdown(deadline: ContinuousClock.Instant)
    /// Consistency check of the KV bookkeeping (tests).
    case audit(CheckedContinuation<[String], Never>)
}

/// The only state the engine thread shares: a command queue, a wake-up signal and the published gauges.
final class EngineInbox: Sendable {
    struct State: Sendable {
        var commands: [EngineCommand] = []
        /// Requests queued in the scheduler plus submissions not yet picked up.
        var queued = 0
        var accepting = true
        var exited = false
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
        var stats = EngineStats()
        var throughput = ThroughputMeter()
    }

    let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)

    /// Queues a command for the engine thread and wakes it. False when the engine thread has exited.
    @discardableResult
    func post(_ command: EngineCommand) -> Bool {
        let posted = state.withLock { state in
            guard !state.exited else { return false }
            state.commands.append(command)
            return true
        }
        if posted { wakeup.signal() }
        return posted
    }

    /// Admits a submission unless the engine is shutting down or the queue is full.
    func submit(_ submission: Submission, maxQueued: Int) -> EngineRejection? {
        let rejection: EngineRejection? = state.withLock { state in
            guard state.accepting, !state.exited else { return .shuttingDown }
            guard state.queued < maxQueued else { return .queueFull }
            state.queued += 1
            state.commands.append(.submit(submission))
            return nil
        }
        if rejection == nil { wakeup.signal() }
        return rejection
    }

    /// Takes every queued command (engine thread).
    func takeCommands() -> [EngineCommand] {
        state.withLock { state in
            defer { state.commands = [] }
            return state.commands
        }
    }

    /// Blocks the engine thread until a command arrives (or `timeout` passes).
    func waitForWork(timeout: Duration? = nil) {
        if let timeout {
            let nanoseconds =
                Int(timeout.components.seconds) * 1_000_000_000
                + Int(timeout.components.attoseconds / 1_000_000_000)
            _ = wakeup.wait(timeout: .now() + .nanoseconds(nanoseconds))
        } else {
            wakeup.wait()
        }
    }

    /// Publishes gauges (engine thread); `waiting` is the scheduler's queue length.
    func publish(_ stats: EngineStats, waiting: Int, generatedTokens: Int) {
        state.withLock { state in
            state.stats = stats
            state.queued =
                waiting
                + state.commands.reduce(0) { count, command in
                    if case .submit = command { return count + 1 }
                    return count
                }
            state.throughput.record(generatedTokens)
        }
    }

    /// Marks the engine thread as gone and answers commands that arrived too late. Returns those commands' streams'
    /// continuations and flush continuations to be answered by the caller.
    func markExited() -> [EngineCommand] {
        let (leftover, waiters) = state.withLock { state in
            state.exited = true
            state.accepting = false
            defer {
                state.commands = []
                state.exitWaiters = []
            }
            return (state.commands, state.exitWaiters)
        }
        for waiter in waiters { waiter.resume() }
        return leftover
    }

    /// Waits until the engine thread has exited.
    func waitForExit() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let exited = state.withLock { state in
                if state.exited { return true }
                state.exitWaiters.append(continuation)
                return false
            }
            if exited { continuation.resume() }
        }
    }
}
