import ErnieModel

/// The engine thread's state and main loop: it owns the executor (and through it the KV cache), the scheduler and
/// every request's generation state. Only the engine thread touches it.
final class EngineLoop {
    let executor: any ModelExecutor
    let inbox: EngineInbox
    let rules: GenerationRules
    let makeDecoder: TextDecoderFactory
    let pageSize: Int
    var scheduler: Scheduler
    var requests: [SequenceID: RequestState] = [:]
    /// Engine ids of the live requests with a given `GenerationRequest.id`.
    var idsByRequestID: [String: Set<SequenceID>] = [:]
    var shutdownDeadline: ContinuousClock.Instant?
    var counters = Counters()

    struct Counters {
        var promptTokens = 0
        var cachedPromptTokens = 0
        var generationTokens = 0
        var finishedRequests = 0
    }

    init(
        executor: any ModelExecutor, inbox: EngineInbox, schedulerConfig: SchedulerConfig, rules: GenerationRules,
        makeDecoder: @escaping TextDecoderFactory
    ) {
        self.executor = executor
        self.inbox = inbox
        self.rules = rules
        self.makeDecoder = makeDecoder
        pageSize = schedulerConfig.pageSize
        scheduler = Scheduler(config: schedulerConfig)
    }

    /// The loop: drain the inbox, plan a step, run it, hand out results; sleep while there is nothing to do.
    func run() {
        while true {
            for command in inbox.takeCommands() { apply(command) }
            if let deadline = shutdownDeadline {
                if scheduler.isIdle { break }
                if ContinuousClock.now >= deadline {
                    abortAll("the engine is shutting down")
                    break
                }
            }
            let plan = scheduler.schedule()
            noteAdmissions(plan)
            for failure in plan.failed {
                finishRequest(failure.id, reason: .abort(failure.reason), cacheable: false, alreadyRemoved: true)
            }
            var generated = 0
            if !plan.isEmpty { generated = runStep(plan) }
            publishStats(generatedTokens: generated)
            if plan.isEmpty {
                // Idle: sleep until a command arrives. (Work that cannot be planned cannot exist, since a request
                // that fits alone always gets a step; the timeout only guards against spinning if it ever did.)
                inbox.waitForWork(timeout: scheduler.isIdle ? nil : .milliseconds(10))
            }
        }
        for command in inbox.markExited() { answerAfterExit(command) }
        publishStats(generatedTokens: 0)
    }

    // MARK: Commands

    private func apply(_ command: EngineCommand) {
        switch command {
        case .submit(let submission):
            accept(submission)
        case .abort(let requestID):
            for id in (idsByRequestID[requestID] ?? []).sorted() {
                finishRequest(id, reason: .abort("the request was aborted"), cacheable: true)
            }
        case .cancel(let id):
            if requests[id] != nil { finishRequest(id, reason: nil, cacheable: true) }
        case .flush(let continuation):
            continuation.resume(returning: scheduler.flushCache())
        case .shutdown(let deadline):
            shutdownDeadline = min(shutdownDeadline ?? deadline, deadline)
        case .audit(let continuation):
            continuation.resume(returning: scheduler.auditProblems())
        }
    }

    private func accept(_ submission: Submission) {
        let request = submission.request
        let state = RequestState(
            id: submission.id, request: request, seed: submission.seed, continuation: submission.continuation,
            decoder: makeDecoder(request.skipSpecialTokens))
        let sequence = ScheduledSequence(
            id: submission.id, promptTokens: request.promptTokens.map { Int32(truncatingIfNeeded: $0) },
            maxNewTokens: request.maxNewTokens, inputLogprobsStart: request.inputLogprobsStart)
        if let rejection = scheduler.enqueue(sequence) {
            var state = state
            state.continuation.yield(state.abortOutput("rejected: \(rejection)"))
            state.continuation.finish()
            return
        }
        requests[submission.id] = state
        idsByRequestID[request.id, default: []].insert(submission.id)
    }

    private func answerAfterExit(_ command: EngineCommand) {
        switch command {
        case .submit(let submission):
            submission.continuation.yield(
                GenerationOutput(
                    newTokens: [], text: "", promptTokens: submission.request.promptTokens.count, completionTokens: 0,
                    cachedTokens: 0, finishReason: .abort("the engine is shutting down")))
            submission.continuation.finish()
        case .flush(let continuation):
            continuation.resume(returning: false)
        case .audit(let continuation):
            continuation.resume(returning: [])
        case .abort, .cancel, .shutdown:
            break
        }
    }

    private func abortAll(_ message: String) {
        for id in requests.keys.sorted() { finishRequest(id, reason: .abort(message), cacheable: true) }
    }

    // MARK: Request bookkeeping

    private func noteAdmissions(_ plan: StepPlan) {
        for id in plan.admitted {
            guard var state = requests[id], !state.wasAdmitted else { continue }
            state.wasAdmitted = true
            state.cachedTokens = scheduler.sequences[id]?.cachedTokens ?? 0
            counters.promptTokens += state.request.promptTokens.count
            counters.cachedPromptTokens += state.cachedTokens
            requests[id] = state
        }
    }

    /// Ends a request: sends `reason` as its last output (nothing when `nil`: its consumer is gone), closes its
    /// stream and frees its pages.
    func finishRequest(_ id: SequenceID, reason: FinishReason?, cacheable: Bool, alreadyRemoved: Bool = false) {
        guard var state = requests.removeValue(forKey: id) else { return }
        if !alreadyRemoved { scheduler.finish(id, cacheable: cacheable) }
        idsByRequestID[state.request.id]?.remove(id)
        if idsByRequestID[state.request.id]?.isEmpty == true { idsByRequestID[state.request.id] = nil }
        if case .abort(let message) = reason {
            state.continuation.yield(state.abortOutput(message))
        }
        state.continuation.finish()
        counters.finishedRequests += 1
    }

    /// Sends a regular output; ends the request when it is the last one or the consumer went away.
    func deliver(_ output: GenerationOutput, for id: SequenceID, state: RequestState) {
        let result = state.continuation.yield(output)
        if output.finishReason != nil {
            requests[id] = state
            finishRequest(id, reason: nil, cacheable: true)
        } else if case .terminated = result {
            requests[id] = state
            finishRequest(id, reason: nil, cacheable: true)
        } else {
            requests[id] = state
        }
    }

    // MARK: Stats

    private func publishStats(generatedTokens: Int) {
        var stats = EngineStats()
        stats.runningRequests = scheduler.running.count
        stats.queuedRequests = scheduler.waiting.count
        stats.usedTokens = scheduler.usedTokens
        stats.cachedTokens = scheduler.cachedTokens
        stats.totalTokens = scheduler.config.capacityTokens
        stats.tokenUsage = stats.totalTokens > 0 ? Double(stats.usedTokens) / Double(stats.totalTokens) : 0
        stats.cacheHitRate =
            counters.promptTokens > 0 ? Double(counters.cachedPromptTokens) / Double(counters.promptTokens) : 0
        stats.promptTokensTotal = counters.promptTokens
        stats.generationTokensTotal = counters.generationTokens
        stats.requestsTotal = counters.finishedRequests
        stats.retractionsTotal = scheduler.retractionCount
        inbox.publish(stats, waiting: scheduler.waiting.count, generatedTokens: generatedTokens)
    }
}
