public import ErnieModel
public import ErnieTokenizer

/// The serving engine: one thread owns the model and the KV pool and runs the scheduler loop; any task may submit
/// requests and read their outputs without blocking.
public final class Engine: Sendable {
    public let configuration: EngineConfiguration

    /// Takes ownership of `executor`; from now on only the engine thread touches it.
    public init(executor: sending any ModelExecutor, tokenizer: Tokenizer, configuration: EngineConfiguration) {
        self.configuration = configuration
    }

    /// Starts the engine thread.
    public func start() {}

    /// Queues a request. The stream yields one `GenerationOutput` per step with progress and finishes after the output
    /// whose `finishReason` is set. Terminating the stream early (a client that went away) aborts the request and
    /// frees its KV pages.
    public func submit(_ request: GenerationRequest) throws(EngineRejection) -> AsyncStream<GenerationOutput> {
        throw .shuttingDown
    }

    /// Aborts a request by id (no-op when it already finished).
    public func abort(requestID: String) {}

    /// Empties the prefix cache. Refused (false) while requests are running, as in SGLang.
    public func flushCache() async -> Bool { false }

    /// Current counters and gauges.
    public var stats: EngineStats { EngineStats() }

    /// Stops admitting requests, aborts or finishes the ones in flight, and stops the engine thread.
    public func shutdown() async {}
}
