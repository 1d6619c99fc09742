public import ErnieRuntime

/// What the HTTP layer needs from the engine. ``Engine`` is the real one; tests of the HTTP framing can drive the
/// routes with a scripted engine.
public protocol GenerationEngine: Sendable {
    /// Queues a request; the stream yields its progress and finishes after the output that carries a finish reason.
    /// Terminating the stream early aborts the request.
    func submit(_ request: GenerationRequest) throws(EngineRejection) -> AsyncStream<GenerationOutput>
    /// Aborts a request by id (no-op when it already finished).
    func abort(requestID: String)
    /// Empties the prefix cache; `false` while requests are running.
    func flushCache() async -> Bool
    /// Current counters and gauges.
    var stats: EngineStats { get }
}

extension Engine: GenerationEngine {}
