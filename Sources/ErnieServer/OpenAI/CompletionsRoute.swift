import ErnieRuntime
import Hummingbird

/// `POST /v1/completions`.
struct CompletionsRoute: Sendable {
    let server: ServerContext

    /// A validated request with its prompts as token ids and, for `echo`, as text.
    struct Prepared: Sendable {
        var completion: CompletionRequest
        var promptTokens: [[Int]]
        var promptTexts: [String]
        var requests: [GenerationRequest]
    }

    func handle(_ request: Request, context: ServerRequestContext) async throws -> Response {
        let arrival = ContinuousClock.now
        let body = try await server.readBody(request)
        let server = self.server
        let id = server.makeRequestID(prefix: "cmpl-")
        let prepared = try await server.prepare(bodySize: body.count) { () throws(APIError) in
            let completion = try CompletionRequest(try parseJSONBody(body))
            try server.checkModel(completion.model)
            var tokens: [[Int]] = []
            var texts: [String] = []
            switch completion.prompts {
            case .texts(let prompts):
                texts = prompts
                for prompt in prompts { tokens.append(try server.encode(prompt)) }
            case .tokens(let lists):
                for (i, ids) in lists.enumerated() {
                    try server.checkTokenIDs(ids, param: lists.count > 1 ? "prompt[\(i)]" : "prompt")
                }
                tokens = lists
                texts = completion.echo ? lists.map { server.decodeText($0, skipSpecialTokens: false) } : []
            }
            let logprobs = LogprobOptions(
                output: completion.logprobs != nil, top: completion.logprobs ?? 0,
                inputStart: completion.echo && completion.logprobs != nil ? 0 : nil)
            let requests = try server.makeRequests(
                prompts: tokens, options: completion.options,
                maxTokensDefault: .fixed(CompletionRequest.defaultMaxTokens), maxParam: "max_tokens",
                promptParam: "prompt", logprobs: { _ in logprobs }, idPrefix: id)
            return Prepared(completion: completion, promptTokens: tokens, promptTexts: texts, requests: requests)
        }
        let run = try GenerationRun(prepared.requests, context: server, arrival: arrival)
        run.abortWhenClientLeaves(await context.channel.clientConnection())
        if prepared.completion.stream {
            return stream(run, prepared: prepared, id: id)
        }
        let results = try await run.collect()
        try server.checkFinished(results)
        let n = prepared.completion.options.n
        let choices = results.enumerated().map { index, result in
            let prompt = index / n
            let echo = prepared.completion.echo
            var text = result.text
            var logprobs: CompletionLogprobs?
            if prepared.completion.logprobs != nil {
                var list = CompletionLogprobs()
                var offset = 0
                if echo {
                    let tokens = prepared.promptTokens[prompt]
                    list.append(
                        tokens: tokens, entries: Self.promptEntries(result.inputLogprobs, count: tokens.count),
                        offset: 0, context: server)
                    offset = prepared.promptTexts[prompt].unicodeScalars.count
                }
                list.append(tokens: result.tokens, entries: result.outputLogprobs, offset: offset, context: server)
                logprobs = list
            }
            if echo { text = prepared.promptTexts[prompt] + text }
            return CompletionResponse.Choice(
                index: index, text: text, logprobs: logprobs, finishReason: result.finishReason?.openAI,
                matchedStop: result.finishReason?.matched)
        }
        return try JSONResponse.make(
            CompletionResponse(
                id: id, created: server.now, model: server.model.name, choices: choices,
                usage: Usage(results: results, choicesPerPrompt: n)))
    }

    /// Prompt log-probabilities as one optional entry per prompt token (the engine's list, padded if short).
    static func promptEntries(_ entries: [LogprobEntry?]?, count: Int) -> [LogprobEntry?] {
        let entries = entries ?? []
        return (0..<count).map { $0 < entries.count ? entries[$0] : nil }
    }

    private func stream(_ run: GenerationRun, prepared: Prepared, id: String) -> Response {
        let server = self.server
        let completion = prepared.completion
        return ServerSentEventWriter.response { events in
            let created = server.now
            func chunk(_ choice: CompletionResponse.Choice) -> CompletionResponse {
                CompletionResponse(
                    id: id, created: created, model: server.model.name, choices: [choice], usage: nil,
                    writeNullUsage: completion.includeUsage)
            }
            let n = completion.options.n
            var offsets = run.requests.map { _ in 0 }
            var results = run.requests.map { _ in GenerationResult() }
            if completion.echo && completion.logprobs == nil {
                for index in run.requests.indices {
                    let text = prepared.promptTexts[index / n]
                    offsets[index] = text.unicodeScalars.count
                    try await events.send(chunk(.init(index: index, text: text)))
                }
            }
            try await run.forEachOutput { index, output in
                results[index].add(output)
                var text = output.text
                var logprobs: CompletionLogprobs?
                if completion.logprobs != nil {
                    var list = CompletionLogprobs()
                    if completion.echo, let input = output.inputLogprobs {
                        let prompt = prepared.promptTokens[index / n]
                        list.append(
                            tokens: prompt, entries: Self.promptEntries(input, count: prompt.count), offset: 0,
                            context: server)
                        text = prepared.promptTexts[index / n] + text
                        offsets[index] = prepared.promptTexts[index / n].unicodeScalars.count
                    }
                    offsets[index] = list.append(
                        tokens: output.newTokens, entries: output.outputLogprobs, offset: offsets[index],
                        context: server)
                    logprobs = list.tokens.isEmpty ? nil : list
                }
                guard !text.isEmpty || logprobs != nil || output.finishReason != nil else { return }
                try await events.send(
                    chunk(
                        .init(
                            index: index, text: text, logprobs: logprobs, finishReason: output.finishReason?.openAI,
                            matchedStop: output.finishReason?.matched)))
            }
            if completion.includeUsage {
                try await events.send(
                    CompletionResponse(
                        id: id, created: created, model: server.model.name, choices: [],
                        usage: Usage(results: results, choicesPerPrompt: n)))
            }
        }
    }
}
