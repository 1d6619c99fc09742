import ErnieRuntime
import Hummingbird

/// SGLang's `POST /generate`.
struct GenerateRoute: Sendable {
    let server: ServerContext

    struct Prepared: Sendable {
        var generate: GenerateRequest
        var requests: [GenerationRequest]
        /// `meta_info.id` of each engine request.
        var rids: [String]
    }

    func handle(_ request: Request, context: ServerRequestContext) async throws -> Response {
        let arrival = ContinuousClock.now
        let body = try await server.readBody(request)
        let server = self.server
        let id = server.makeRequestID(prefix: "")
        let prepared = try await server.prepare(bodySize: body.count) { () throws(APIError) in
            try Self.prepare(try GenerateRequest(try parseJSONBody(body)), id: id, server: server)
        }
        let run = try GenerationRun(prepared.requests, context: server, arrival: arrival)
        run.abortWhenClientLeaves(await context.channel.clientConnection())
        let builder = GenerateResponseBuilder(server: server, request: prepared.generate)
        let indexed = prepared.generate.isBatch || prepared.requests.count > 1
        if prepared.generate.stream {
            return ServerSentEventWriter.response { events in
                var results = run.requests.map { _ in GenerationResult() }
                try await run.forEachOutput { index, output in
                    results[index].add(output)
                    let latency = output.finishReason != nil ? ContinuousClock.now - arrival : nil
                    try await events.send(
                        builder.object(
                            for: run.requests[index], result: results[index], rid: prepared.rids[index],
                            index: indexed ? index : nil, latency: latency))
                }
            }
        }
        let results = try await run.collect()
        let latency = ContinuousClock.now - arrival
        if results.contains(where: { $0.finishReason == nil }) {
            try server.checkFinished(results)
        }
        let objects = results.indices.map { index in
            builder.object(
                for: run.requests[index], result: results[index], rid: prepared.rids[index], index: nil,
                latency: latency)
        }
        return try JSONResponse.make(indexed ? JSONValue.array(objects) : objects[0])
    }

    /// Tokenizes the prompts and makes the engine requests (`n` per prompt, prompt-major).
    static func prepare(_ generate: GenerateRequest, id: String, server: ServerContext) throws(APIError) -> Prepared {
        var prompts: [[Int]] = []
        let promptParam: String
        switch generate.input {
        case .texts(let texts):
            promptParam = "text"
            for text in texts { prompts.append(try server.encode(text)) }
        case .tokens(let lists):
            promptParam = "input_ids"
            for (i, ids) in lists.enumerated() {
                try server.checkTokenIDs(ids, param: generate.isBatch ? "input_ids[\(i)]" : "input_ids")
            }
            prompts = lists
        }
        var requests: [GenerationRequest] = []
        var rids: [String] = []
        for (p, prompt) in prompts.enumerated() {
            let options = generate.options[p]
            if generate.returnLogprob, generate.logprobStartLen >= prompt.count {
                throw .invalidParameter(
                    "logprob_start_len",
                    "'logprob_start_len' (\(generate.logprobStartLen)) must be smaller than the number of prompt "
                        + "tokens (\(prompt.count)).")
            }
            let logprobs = LogprobOptions(
                output: generate.returnLogprob, top: generate.returnLogprob ? generate.topLogprobsNum : 0,
                inputStart: generate.returnLogprob && generate.logprobStartLen >= 0 ? generate.logprobStartLen : nil)
            let made = try server.makeRequests(
                prompts: [prompt], options: options, maxTokensDefault: .fixed(GenerateRequest.defaultMaxNewTokens),
                maxParam: "max_new_tokens", promptParam: promptParam, logprobs: { _ in logprobs },
                idPrefix: prompts.count > 1 ? "\(id)-\(p)" : id)
            for (j, engineRequest) in made.enumerated() {
                if let rid = generate.rids?[p] {
                    rids.append(made.count > 1 ? "\(rid)-\(j)" : rid)
                } else {
                    rids.append(engineRequest.id)
                }
            }
            requests += made
        }
        return Prepared(generate: generate, requests: requests, rids: rids)
    }
}
