import DequeModule

/// Settings of the scheduler state machine.
struct SchedulerConfig: Sendable, Equatable {
    var maxRunningRequests: Int
    /// Most prefill tokens in one step; `<= 0` means no limit (no chunking).
    var chunkedPrefillSize: Int
    var contextLength: Int
    var enableRadixCache: Bool
    var pageSize: Int
    var pageCount: Int
    /// Fraction of each running request's remaining `maxNewTokens` kept free when admitting new requests, right
    /// after start or a retraction; it decays linearly to `minNewTokenRatio` over `newTokenRatioDecaySteps` steps.
    var initialNewTokenRatio: Double = 0.7
    var minNewTokenRatio: Double = 0.14
    var newTokenRatioDecaySteps: Int = 600
    /// Remaining new tokens counted per request at most (a request asking for a huge `maxNewTokens` should not
    /// block admission).
    var clipMaxNewTokens: Int = 4096

    init(
        maxRunningRequests: Int, chunkedPrefillSize: Int, contextLength: Int, enableRadixCache: Bool, pageSize: Int,
        pageCount: Int, conservativeness: Double = 1
    ) {
        self.maxRunningRequests = max(1, maxRunningRequests)
        self.chunkedPrefillSize = chunkedPrefillSize
        self.contextLength = contextLength
        self.enableRadixCache = enableRadixCache
        self.pageSize = max(1, pageSize)
        self.pageCount = max(0, pageCount)
        let scale = max(0, conservativeness)
        initialNewTokenRatio = min(1, 0.7 * scale)
        minNewTokenRatio = min(initialNewTokenRatio, 0.14 * scale)
    }

    var prefillBudget: Int { chunkedPrefillSize > 0 ? chunkedPrefillSize : Int.max }
    var capacityTokens: Int { pageCount * pageSize }
}

/// The scheduler as a value-type state machine: an FCFS queue, the running set, the KV pool and the prefix cache.
///
/// Events: `enqueue` (a new request), `schedule()` (plan the next step: decodes of running sequences plus prefill
/// chunks, retracting the newest sequences when the pool runs out), `complete(_:)` (the step ran), `append` (a token
/// was sampled and the request goes on), `finish` / `remove` (the request ended). It never touches a model, so it is
/// tested on its own.
struct Scheduler: Sendable {
    let config: SchedulerConfig
    var pool: KVPool
    var cache: RadixCache
    var sequences: [SequenceID: ScheduledSequence] = [:]
    /// Waiting sequences, front first.
    var waiting: Deque<SequenceID> = []
    /// Running sequences in admission order (the last one is the newest).
    var running: [SequenceID] = []
    /// Current `new_token_ratio` (see `SchedulerConfig.initialNewTokenRatio`).
    var newTokenRatio: Double
    private(set) var retractionCount = 0

    init(config: SchedulerConfig) {
        self.config = config
        pool = KVPool(pageCount: config.pageCount, pageSize: config.pageSize)
        cache = RadixCache(pageSize: config.pageSize, isEnabled: config.enableRadixCache)
        newTokenRatio = config.initialNewTokenRatio
    }

    // MARK: Admission checks

    /// Why a request can never run with this configuration, or `nil` when it can.
    static func rejection(
        promptCount: Int, maxNewTokens: Int, contextLength: Int, capacityTokens: Int
    ) -> EngineRejection? {
        if promptCount < 1 { return .invalid("the prompt is empty") }
        if maxNewTokens < 0 { return .invalid("max_new_tokens must not be negative, got \(maxNewTokens)") }
        if promptCount >= contextLength {
            return .tooLong(
                "the prompt has \(promptCount) tokens, which is not less than the context length \(contextLength)")
        }
        if promptCount + maxNewTokens > contextLength {
            return .tooLong(
                "the prompt (\(promptCount) tokens) plus max_new_tokens (\(maxNewTokens)) exceeds the context length "
                    + "\(contextLength)")
        }
        // The last generated token is never fed back, so it needs no KV slot.
        let kvNeeded = promptCount + max(maxNewTokens, 1) - 1
        if kvNeeded > capacityTokens {
            return .tooLong(
                "the prompt (\(promptCount) tokens) plus max_new_tokens (\(maxNewTokens)) needs \(kvNeeded) KV cache "
                    + "slots but the KV cache holds only \(capacityTokens)")
        }
        return nil
    }

    // MARK: Events

    /// Adds a request at the back of the queue, or says why it can never run.
    mutating func enqueue(_ sequence: ScheduledSequence) -> EngineRejection? {
        if let reason = Self.rejection(
            promptCount: sequence.promptCount, maxNewTokens: sequence.maxNewTokens,
            contextLength: config.contextLength, capacityTokens: config.capacityTokens)
        {
            return reason
        }
        if sequences[sequence.id] != nil { return .invalid("duplicate sequence \(sequence.id)") }
        var sequence = sequence
        sequence.kvCount = 0
        sequence.pages = []
        sequence.isRunning = false
        sequences[sequence.id] = sequence
        waiting.append(sequence.id)
        return nil
    }

    /// Appends a sampled token to a running sequence that goes on.
    mutating func append(_ token: Int32, to id: SequenceID) {
        sequences[id]?.append(token)
    }

    /// Ends a sequence (finished, aborted or failed) and frees its pages. With `cacheable`, its computed full pages
    /// go to the prefix cache first. Returns false when the sequence is unknown.
    @discardableResult
    mutating func finish(_ id: SequenceID, cacheable: Bool = true) -> Bool {
        guard let sequence = sequences[id] else { return false }
        if sequence.isRunning {
            running.removeAll { $0 == id }
        } else if let index = waiting.firstIndex(of: id) {
            waiting.remove(at: index)
        }
        releasePages(of: id, cacheable: cacheable)
        sequences[id] = nil
        return true
    }

    /// Empties the prefix cache; refused while any request is queued or running.
    mutating func flushCache() -> Bool {
        guard running.isEmpty, waiting.isEmpty else { return false }
        return cache.flush(pool: &pool)
    }

    // MARK: Pages

    /// Makes sure `count` pages are free, evicting cached pages if needed.
    mutating func ensureFree(_ count: Int) -> Bool {
        if pool.freeCount < count {
            cache.evict(pages: count - pool.freeCount, pool: &pool)
        }
        return pool.freeCount >= count
    }

    /// Inserts the sequence's full computed pages into the prefix cache and switches its page table to the cached
    /// copies, releasing duplicates.
    mutating func cacheComputedPages(of id: SequenceID) {
        guard cache.isEnabled, var sequence = sequences[id] else { return }
        let fullPages = min(sequence.kvCount / config.pageSize, sequence.pages.count)
        guard fullPages > 0 else { return }
        let tokens = Array(sequence.tokens[0..<fullPages * config.pageSize])
        let canonical = cache.insert(tokens, pages: Array(sequence.pages[0..<fullPages]), pool: &pool)
        for (i, page) in canonical.enumerated() where page != sequence.pages[i] {
            pool.retain(page)
            pool.release(sequence.pages[i])
            sequence.pages[i] = page
        }
        sequences[id] = sequence
    }

    /// Drops the sequence's page references (after caching its computed pages when `cacheable`).
    mutating func releasePages(of id: SequenceID, cacheable: Bool) {
        if cacheable { cacheComputedPages(of: id) }
        guard var sequence = sequences[id] else { return }
        for page in sequence.pages { pool.release(page) }
        sequence.pages = []
        sequence.kvCount = 0
        sequences[id] = sequence
    }

    /// Moves a running sequence back to the front of the queue; it will re-prefill its prompt and generated tokens.
    mutating func retract(_ id: SequenceID) {
        guard sequences[id]?.isRunning == true else { return }
        running.removeAll { $0 == id }
        releasePages(of: id, cacheable: true)
        sequences[id]?.isRunning = false
        waiting.prepend(id)
        retractionCount += 1
        newTokenRatio = config.initialNewTokenRatio
    }

    // MARK: Gauges

    /// Tokens of KV held by live sequences (whole pages).
    var usedTokens: Int { pool.usedCount * config.pageSize }
    /// Tokens of KV held only by the prefix cache.
    var cachedTokens: Int { pool.cacheOnlyCount * config.pageSize }
    var isIdle: Bool { running.isEmpty && waiting.isEmpty }
}
