public import ErnieModel
public import ErnieTokenizer
import Foundation
import Synchronization

/// The serving engine: one thread owns the model and the KV pool and runs the scheduler loop; any task may submit
/// requests and read their outputs without blocking.
///
/// Threading: `submit`, `abort`, `flushCache`, `stats` and `shutdown` only touch a mutex-protected inbox and never
/// wait for a model step. The engine thread (a dedicated `Thread`, not the cooperative pool) drains the inbox, plans a
/// step, runs the executor and yields outputs to each request's `AsyncStream`; it sleeps while idle.
public final class Engine: Sendable {
    public let configuration: EngineConfiguration
    /// Geometry of the executor's KV cache.
    public let kvLayout: KVCacheLayout
    private let inbox: EngineInbox
    private let handoff: LoopHandoff
    private let vocabSize: Int
    private let nextNumber = Atomic<Int>(0)

    /// Takes ownership of `executor`; from now on only the engine thread touches it.
    public convenience init(
        executor: sending any ModelExecutor, tokenizer: Tokenizer, configuration: EngineConfiguration
    ) {
        let config = executor.config
        var eos = tokenizer.eosTokenIDs
        eos.formUnion(config.eosTokenIDs)
        let tokenizerVocab = tokenizer.vocabularySize
        let vocabLimit = tokenizerVocab > 0 ? min(tokenizerVocab, config.vocabSize) : config.vocabSize
        self.init(
            executor: executor, textDecoders: tokenizer.textDecoderFactory, eosTokenIDs: eos, vocabLimit: vocabLimit,
            configuration: configuration)
    }

    /// Builds an engine around any incremental text decoder (tests use a tokenizer-free one).
    package init(
        executor: sending any ModelExecutor, textDecoders: @escaping TextDecoderFactory, eosTokenIDs: Set<Int>,
        vocabLimit: Int, configuration: EngineConfiguration
    ) {
        self.configuration = configuration
        let layout = executor.kvLayout
        kvLayout = layout
        vocabSize = executor.config.vocabSize
        let inbox = EngineInbox()
        self.inbox = inbox
        let schedulerConfig = SchedulerConfig(
            maxRunningRequests: configuration.maxRunningRequests,
            chunkedPrefillSize: configuration.chunkedPrefillSize, contextLength: configuration.contextLength,
            enableRadixCache: configuration.enableRadixCache, pageSize: layout.pageSize, pageCount: layout.numPages,
            conservativeness: configuration.scheduleConservativeness)
        let rules = GenerationRules(
            eosTokenIDs: eosTokenIDs, vocabLimit: vocabLimit, contextLength: configuration.contextLength)
        handoff = LoopHandoff(
            EngineLoop(
                executor: executor, inbox: inbox, schedulerConfig: schedulerConfig, rules: rules,
                makeDecoder: textDecoders))
    }

    deinit {
        // The engine thread holds only the inbox and the loop, so it ends after aborting what is left (it is started
        // here if it never was, so that queued streams still get their final output).
        inbox.state.withLock { $0.accepting = false }
        inbox.post(.shutdown(deadline: .now))
        handoff.start(name: "ernie-engine")
    }

    /// Starts the engine thread (once; later calls do nothing).
    public func start() {
        handoff.start(name: "ernie-engine")
    }

    /// Queues a request. The stream yields one `GenerationOutput` per step with progress and finishes after the output
    /// whose `finishReason` is set. Terminating the stream early (a client that went away) aborts the request and
    /// frees its KV pages.
    ///
    /// - Throws: `EngineRejection.invalid` for an empty prompt, ids outside the vocabulary or bad numbers;
    ///   `.tooLong` when the prompt plus `maxNewTokens` can never fit the context length or the KV cache;
    ///   `.queueFull` beyond `maxQueuedRequests`; `.shuttingDown` after `shutdown()`.
    public func submit(_ request: GenerationRequest) throws(EngineRejection) -> AsyncStream<GenerationOutput> {
        if let rejection = validate(request) { throw rejection }
        let number = nextNumber.add(1, ordering: .relaxed).oldValue
        let id = SequenceID(number)
        let seed = request.seed ?? (configuration.randomSeed &+ UInt64(number))
        let (stream, continuation) = AsyncStream<GenerationOutput>.makeStream()
        let inbox = self.inbox
        continuation.onTermination = { termination in
            if case .cancelled = termination { inbox.post(.cancel(id)) }
        }
        let submission = Submission(id: id, request: request, seed: seed, continuation: continuation)
        if let rejection = inbox.submit(submission, maxQueued: configuration.maxQueuedRequests) {
            continuation.onTermination = nil
            continuation.finish()
            throw rejection
        }
        return stream
    }

    private func validate(_ request: GenerationRequest) -> EngineRejection? {
        if let bad = request.promptTokens.first(where: { $0 < 0 || $0 >= vocabSize }) {
            return .invalid("prompt token id \(bad) is outside the vocabulary (0..<\(vocabSize))")
        }
        if request.minNewTokens < 0 { return .invalid("min_new_tokens must not be negative") }
        if request.topLogprobs < 0 { return .invalid("top_logprobs must not be negative") }
        if let start = request.inputLogprobsStart, start < 0 {
            return .invalid("logprob_start_len must not be negative, got \(start)")
        }
        return Scheduler.rejection(
            promptCount: request.promptTokens.count, maxNewTokens: request.maxNewTokens,
            contextLength: configuration.contextLength, capacityTokens: kvLayout.capacityTokens)
    }

    /// Aborts a request by id (no-op when it already finished). Its stream ends with `.abort`.
    public func abort(requestID: String) {
        inbox.post(.abort(requestID: requestID))
    }

    /// Empties the prefix cache. Refused (false) while requests are queued or running, as in SGLang, and after
    /// shutdown. Answered by the engine thread, so it waits for `start()`.
    public func flushCache() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            if !inbox.post(.flush(continuation)) { continuation.resume(returning: false) }
        }
    }

    /// Problems found by a consistency check of the KV pool, the prefix cache and the scheduler's sets, run on the
    /// engine thread between steps (tests). Empty when everything adds up.
    package func auditKV() async -> [String] {
        await withCheckedContinuation { (continuation: CheckedContinuation<[String], Never>) in
            if !inbox.post(.audit(continuation)) { continuation.resume(returning: ["the engine thread has exited"]) }
        }
    }

    /// Current counters and gauges.
    public var stats: EngineStats {
        inbox.state.withLock { state in
            var stats = state.stats
            stats.queuedRequests = state.queued  // includes submissions the engine thread has not picked up yet
            stats.generationThroughput = state.throughput.rate()
            return stats
        }
    }

    /// Stops admitting requests, aborts the ones in flight, and stops the engine thread.
    public func shutdown() async {
        await shutdown(gracePeriod: .zero)
    }

    /// Stops admitting requests (new submissions throw `.shuttingDown`), lets the requests in flight run for up to
    /// `gracePeriod`, aborts what is left, and waits for the engine thread to exit.
    public func shutdown(gracePeriod: Duration) async {
        inbox.state.withLock { $0.accepting = false }
        start()
        inbox.post(.shutdown(deadline: .now + gracePeriod))
        await inbox.waitForExit()
    }
}

/// Hands the engine loop (and with it the executor) from the creating thread to the engine thread.
private final class LoopHandoff: Sendable {
    private let loop: Mutex<EngineLoop?>
    private let started = Atomic<Bool>(false)

    init(_ loop: sending EngineLoop) {
        self.loop = Mutex(loop)
    }

    func start(name: String) {
        guard started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        let thread = Thread { [self] in
            let loop = self.loop.withLock { value -> sending EngineLoop? in
                let taken = value.take()
                return taken
            }
            loop?.run()
        }
        thread.name = name
        thread.stackSize = 16 << 20
        thread.start()
    }
}
