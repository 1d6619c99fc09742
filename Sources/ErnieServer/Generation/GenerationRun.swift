import ErnieRuntime
import Synchronization

/// The engine requests one HTTP request turned into, from submission to the last output.
///
/// Whatever has not finished when the run is released (the client went away, the response writer failed, the handler
/// was cancelled) is aborted, so its KV pages are freed.
final class GenerationRun: Sendable {
    let requests: [GenerationRequest]
    private let streams: [AsyncStream<GenerationOutput>]
    private let context: ServerContext
    private let finished: Mutex<[Bool]>
    /// When the HTTP request arrived (latency metrics start here).
    let arrival: ContinuousClock.Instant

    /// Submits every request. When one is refused, the ones already submitted are aborted and the refusal is
    /// answered as an HTTP error.
    init(_ requests: [GenerationRequest], context: ServerContext, arrival: ContinuousClock.Instant) throws(APIError) {
        guard !context.isStopping else { throw .unavailable("The server is shutting down.") }
        var streams: [AsyncStream<GenerationOutput>] = []
        for request in requests {
            do {
                streams.append(try context.engine.submit(request))
            } catch {
                for submitted in requests.prefix(streams.count) { context.engine.abort(requestID: submitted.id) }
                throw Self.httpError(error)
            }
        }
        self.requests = requests
        self.streams = streams
        self.context = context
        self.arrival = arrival
        self.finished = Mutex([Bool](repeating: false, count: requests.count))
    }

    /// The client's connection and the token of this run's abort action on it.
    private let watch = Mutex<(connection: ClientConnection, token: Int)?>(nil)

    deinit {
        if let watch = watch.withLock({ $0 }) { watch.connection.cancel(watch.token) }
        abortUnfinished()
    }

    /// Aborts every request that has not finished (their streams then end with `.abort`).
    func abortUnfinished() {
        let unfinished = finished.withLock { flags in flags.indices.filter { !flags[$0] } }
        for index in unfinished { context.engine.abort(requestID: requests[index].id) }
    }

    /// Aborts the unfinished requests as soon as the client closes `connection` (even while nothing is written to it).
    func abortWhenClientLeaves(_ connection: ClientConnection?) {
        guard let connection else { return }
        let token = connection.onClose { [weak self] in self?.abortUnfinished() }
        if let token { watch.withLock { $0 = (connection, token) } }
    }

    static func httpError(_ rejection: EngineRejection) -> APIError {
        switch rejection {
        case .queueFull:
            .unavailable("The request queue is full (--max-queued-requests); retry later.")
        case .tooLong(let message):
            .contextLengthExceeded(message)
        case .invalid(let message):
            .badRequest(message)
        case .shuttingDown:
            .unavailable("The server is shutting down.")
        }
    }

    /// Calls `body` with every output of every request, in the order they arrive; returns when all requests have
    /// finished. If `body` throws, the remaining requests are aborted and the error is rethrown.
    func forEachOutput(_ body: (Int, GenerationOutput) async throws -> Void) async throws {
        var trackers = requests.map { _ in LatencyTracker() }
        func handle(_ index: Int, _ output: GenerationOutput) async throws {
            trackers[index].observe(output, arrival: arrival, metrics: context.metrics)
            if output.finishReason != nil { finished.withLock { $0[index] = true } }
            try await body(index, output)
        }
        // Requests given up on (the client went away) still count as requests, with what they had produced.
        defer {
            for index in trackers.indices where !trackers[index].isFinished {
                trackers[index].abandon(
                    promptTokens: requests[index].promptTokens.count, arrival: arrival, metrics: context.metrics)
            }
        }
        if streams.count == 1 {
            for await output in streams[0] { try await handle(0, output) }
            return
        }
        let (merged, continuation) = AsyncStream<(Int, GenerationOutput)>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let streams = self.streams
            group.addTask {
                await withTaskGroup(of: Void.self) { producers in
                    for (index, stream) in streams.enumerated() {
                        producers.addTask {
                            for await output in stream { continuation.yield((index, output)) }
                        }
                    }
                }
                continuation.finish()
            }
            for await (index, output) in merged { try await handle(index, output) }
            group.cancelAll()
        }
    }

    /// Runs every request to its end and returns what each produced.
    func collect() async throws -> [GenerationResult] {
        var results = requests.map { _ in GenerationResult() }
        try await forEachOutput { index, output in results[index].add(output) }
        return results
    }
}

/// Time to first token, inter-token latency and end-to-end latency of one engine request.
struct LatencyTracker {
    private var last: ContinuousClock.Instant?
    private var latest: GenerationOutput?
    private(set) var isFinished = false

    mutating func observe(_ output: GenerationOutput, arrival: ContinuousClock.Instant, metrics: ServerMetrics) {
        let now = ContinuousClock.now
        latest = output
        let tokens = output.newTokens.count
        if tokens > 0 {
            if let last {
                let gap = (now - last) / tokens
                for _ in 0..<tokens { metrics.recordInterTokenLatency(gap) }
            } else {
                metrics.recordTimeToFirstToken(now - arrival)
            }
            last = now
        }
        if output.finishReason != nil {
            isFinished = true
            metrics.recordFinished(
                promptTokens: output.promptTokens, completionTokens: output.completionTokens,
                cachedTokens: output.cachedTokens, e2e: now - arrival)
        }
    }

    /// Records a request that ended without its final output (aborted because its client left).
    mutating func abandon(promptTokens: Int, arrival: ContinuousClock.Instant, metrics: ServerMetrics) {
        isFinished = true
        metrics.recordFinished(
            promptTokens: latest?.promptTokens ?? promptTokens, completionTokens: latest?.completionTokens ?? 0,
            cachedTokens: latest?.cachedTokens ?? 0, e2e: ContinuousClock.now - arrival)
    }
}
