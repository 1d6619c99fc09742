public import ErnieRuntime

/// What the HTTP layer needs from the engine. ``Engine`` is the real one (``DataParallelEngine`` for several
/// replicas); tests of the HTTP framing can drive the routes with a scripted engine.
public protocol GenerationEngine: Sendable {
    /// Queues a request; the stream yields its progress and finishes after the output that carries a finish reason.
    /// Terminating the stream early aborts the request.
    func submit(_ request: GenerationRequest) throws(EngineRejection) -> AsyncStream<GenerationOutput>
    /// Aborts a request by id (no-op when it already finished).
    func abort(requestID: String)
    /// Empties the prefix cache; `false` while requests are running.
    func flushCache() async -> Bool
    /// Current counters and gauges (summed over the replicas of a data-parallel front).
    var stats: EngineStats { get }
    /// Each scheduler's counters and gauges (one entry per data-parallel replica), for `/get_server_info`.
    var replicaStats: [EngineStats] { get }
}

extension GenerationEngine {
    public var replicaStats: [EngineStats] { [stats] }
}

/// An engine the server starts with its services and shuts down with them.
public protocol ServingEngine: GenerationEngine {
    /// Starts the engine thread(s).
    func start()
    /// Refuses new requests, ends the ones in flight and stops the engine thread(s).
    func shutdown() async
}

extension Engine: ServingEngine {}

extension DataParallelEngine: ServingEngine {}
