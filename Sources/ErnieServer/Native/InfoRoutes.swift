import ErnieRuntime
import Hummingbird

/// The version `/get_server_info` reports.
public enum ErnieServeVersion {
    public static let string = "0.1.0"
}

/// Health, model and server information, cache flushing and `/metrics`.
struct InfoRoutes: Sendable {
    let server: ServerContext

    /// `GET /health`: 200 while serving, 503 once shutdown has begun.
    func health() throws -> Response {
        guard !server.isStopping else { throw APIError.unavailable("The server is shutting down.") }
        return Response(status: .ok)
    }

    /// `GET /health_generate`: runs a one-token generation unless requests are already being served, and answers
    /// 200 when the engine produced it within the health-check timeout, 503 otherwise.
    func healthGenerate() async throws -> Response {
        guard !server.isStopping else { throw APIError.unavailable("The server is shutting down.") }
        let stats = server.engine.stats
        if stats.runningRequests > 0 || stats.queuedRequests > 0 { return Response(status: .ok) }
        let probe = GenerationRequest(
            id: server.makeRequestID(prefix: "health-"), promptTokens: [0], sampling: .greedy, maxNewTokens: 1,
            ignoreEOS: true)
        let run = try GenerationRun([probe], context: server, arrival: .now)
        let timeout = server.configuration.healthCheckTimeoutSeconds
        let healthy = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                let results = try? await run.collect()
                switch results?.first?.finishReason {
                case .length?, .stopToken?, .stopString?: return true
                default: return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(timeout))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        guard healthy else {
            throw APIError.unavailable("The engine did not produce a token within \(timeout) s.", retryAfterSeconds: 5)
        }
        return Response(status: .ok)
    }

    /// `GET /get_model_info`.
    func modelInfo() throws -> Response {
        let model = server.model
        let info: JSONValue = [
            "model_path": .string(model.modelPath),
            "tokenizer_path": .string(model.tokenizerPath),
            "is_generation": true,
            "preferred_sampling_params": model.samplingDefaults.json,
            "weight_version": "default",
            "served_model_name": .string(model.name),
            "max_context_length": .int(model.contextLength),
        ]
        return try JSONResponse.make(info)
    }

    /// `GET /get_server_info`: the server arguments, each scheduler's state in `internal_states` (one entry per
    /// data-parallel replica, as SGLang lists its DP ranks), and `version`.
    func serverInfo() throws -> Response {
        var info = server.configuration.serverArgs
        info["internal_states"] = .array(server.engine.replicaStats.enumerated().map { rank, stats in
            [
                "dp_rank": .int(rank),
                "num_running_reqs": .int(stats.runningRequests),
                "num_queue_reqs": .int(stats.queuedRequests),
                "num_used_tokens": .int(stats.usedTokens),
                "num_cached_tokens": .int(stats.cachedTokens),
                "max_total_num_tokens": .int(stats.totalTokens),
                "token_usage": .double(stats.tokenUsage),
                "cache_hit_rate": .double(stats.cacheHitRate),
                "last_gen_throughput": .double(stats.generationThroughput),
                "num_retracted_reqs": .int(stats.retractionsTotal),
            ] as JSONValue
        })
        info["version"] = .string(ErnieServeVersion.string)
        return try JSONResponse.make(info)
    }

    /// `POST /flush_cache`: 200 when the prefix cache was emptied, 400 while requests run (as in SGLang).
    func flushCache() async throws -> Response {
        guard await server.engine.flushCache() else {
            throw APIError.badRequest(
                "The cache was not flushed because requests are running or waiting; retry when the server is idle.",
                code: "cache_busy")
        }
        var response = Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "Cache flushed.\n")))
        response.headers[.contentType] = "text/plain; charset=utf-8"
        return response
    }

    /// `GET /metrics`: Prometheus text format.
    func metrics() -> Response {
        let text = server.metrics.render(stats: server.engine.stats)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// `GET /v1/models`.
    func models() throws -> Response {
        try JSONResponse.make(["object": "list", "data": [modelCard]] as JSONValue)
    }

    /// `GET /v1/models/{id}` (the id may contain slashes; a leading one is lost in the URL, so an absolute model path
    /// arrives without it).
    func model(_ name: String) throws -> Response {
        let known = [server.model.name, server.model.modelPath]
        guard known.contains(where: { $0 == name || String($0.drop { $0 == "/" }) == name }) else {
            throw APIError.modelNotFound(name, served: server.model.name)
        }
        return try JSONResponse.make(modelCard)
    }

    private var modelCard: JSONValue {
        [
            "id": .string(server.model.name),
            "object": "model",
            "created": .int(Int(server.startTime.timeIntervalSince1970)),
            "owned_by": "ernieserve",
            "root": .string(server.model.modelPath),
            "max_model_len": .int(server.model.contextLength),
        ]
    }
}
