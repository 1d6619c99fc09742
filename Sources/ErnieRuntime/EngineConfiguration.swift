/// Scheduler and cache settings (SGLang's names in the comments).
public struct EngineConfiguration: Sendable {
    /// `--max-running-requests`.
    public var maxRunningRequests: Int
    /// `--max-queued-requests`; beyond it new requests are refused with `EngineRejection.queueFull`.
    public var maxQueuedRequests: Int
    /// `--chunked-prefill-size`: most prompt tokens processed in one step.
    public var chunkedPrefillSize: Int
    /// `--context-length`.
    public var contextLength: Int
    /// `--disable-radix-cache` turns this off.
    public var enableRadixCache: Bool
    /// `--random-seed`: seeds requests that bring no seed of their own.
    public var randomSeed: UInt64
    /// `--schedule-conservativeness`: scales the KV space held back for the future tokens of running requests when
    /// new requests are admitted. Larger is safer (fewer retractions), 0 admits whatever fits right now.
    public var scheduleConservativeness: Double

    public init(
        maxRunningRequests: Int = 256, maxQueuedRequests: Int = 4096, chunkedPrefillSize: Int = 2048,
        contextLength: Int, enableRadixCache: Bool = true, randomSeed: UInt64 = 0,
        scheduleConservativeness: Double = 1.0
    ) {
        self.maxRunningRequests = maxRunningRequests
        self.maxQueuedRequests = maxQueuedRequests
        self.chunkedPrefillSize = chunkedPrefillSize
        self.contextLength = contextLength
        self.enableRadixCache = enableRadixCache
        self.randomSeed = randomSeed
        self.scheduleConservativeness = scheduleConservativeness
    }
}

/// A snapshot of the engine's state for `/metrics` and `/get_server_info`.
public struct EngineStats: Sendable, Equatable {
    public var runningRequests: Int = 0
    public var queuedRequests: Int = 0
    /// KV tokens held by live requests (not evictable cache).
    public var usedTokens: Int = 0
    /// KV tokens held by the prefix cache with no live request.
    public var cachedTokens: Int = 0
    public var totalTokens: Int = 0
    /// `usedTokens / totalTokens`.
    public var tokenUsage: Double = 0
    /// Prefix-cache hits over prompt tokens, since start.
    public var cacheHitRate: Double = 0
    /// Generated tokens per second over the last few seconds.
    public var generationThroughput: Double = 0
    public var promptTokensTotal: Int = 0
    public var generationTokensTotal: Int = 0
    public var requestsTotal: Int = 0
    public var retractionsTotal: Int = 0

    public init() {}
}
