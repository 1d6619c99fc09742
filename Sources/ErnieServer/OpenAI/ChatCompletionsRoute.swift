import ErnieRuntime
import Hummingbird

/// `POST /v1/chat/completions`.
struct ChatCompletionsRoute: Sendable {
    let server: ServerContext

    func handle(_ request: Request, context: ServerRequestContext) async throws -> Response {
        let arrival = ContinuousClock.now
        let body = try await server.readBody(request)
        let server = self.server
        let id = server.makeRequestID(prefix: "chatcmpl-")
        let (chat, requests) = try await server.prepare(bodySize: body.count) { () throws(APIError) in
            let chat = try ChatCompletionRequest(try parseJSONBody(body))
            try server.checkModel(chat.model)
            let text = try server.renderChat(
                messages: chat.messages, tools: chat.tools, addGenerationPrompt: chat.addGenerationPrompt,
                kwargs: chat.templateKwargs)
            let prompt = try server.encode(text)
            let requests = try server.makeRequests(
                prompts: [prompt], options: chat.options, maxTokensDefault: .restOfContext, maxParam: chat.maxParam,
                promptParam: "messages",
                logprobs: { _ in LogprobOptions(output: chat.logprobs, top: chat.topLogprobs) },
                idPrefix: id)
            return (chat, requests)
        }
        let run = try GenerationRun(requests, context: server, arrival: arrival)
        run.abortWhenClientLeaves(await context.channel.clientConnection())
        if chat.stream {
            return stream(run, chat: chat, id: id)
        }
        let results = try await run.collect()
        try server.checkFinished(results)
        let response = ChatCompletionResponse(
            id: id, created: server.now, model: server.model.name,
            choices: results.enumerated().map { index, result in
                ChatCompletionResponse.Choice(
                    index: index, message: .init(content: result.text),
                    logprobs: chat.logprobs ? ChatLogprobs(result.outputLogprobs, context: server) : nil,
                    finishReason: result.finishReason?.openAI, matchedStop: result.finishReason?.matched)
            },
            usage: Usage(results: results, choicesPerPrompt: chat.options.n))
        return try JSONResponse.make(response)
    }

    private func stream(_ run: GenerationRun, chat: ChatCompletionRequest, id: String) -> Response {
        let server = self.server
        return ServerSentEventWriter.response { events in
            let created = server.now
            func chunk(_ choices: [ChatCompletionChunk.Choice], usage: Usage? = nil) -> ChatCompletionChunk {
                ChatCompletionChunk(
                    id: id, created: created, model: server.model.name, choices: choices, usage: usage,
                    includeUsageField: chat.includeUsage)
            }
            for index in run.requests.indices {
                try await events.send(chunk([.init(index: index, delta: .init(role: "assistant", content: ""))]))
            }
            var results = run.requests.map { _ in GenerationResult() }
            try await run.forEachOutput { index, output in
                results[index].add(output)
                let logprobs =
                    chat.logprobs && !output.outputLogprobs.isEmpty
                    ? ChatLogprobs(output.outputLogprobs, context: server) : nil
                guard !output.text.isEmpty || logprobs != nil || output.finishReason != nil else { return }
                try await events.send(
                    chunk([
                        .init(
                            index: index, delta: .init(content: output.text.isEmpty ? nil : output.text),
                            logprobs: logprobs, finishReason: output.finishReason?.openAI,
                            matchedStop: output.finishReason?.matched)
                    ]))
            }
            if chat.includeUsage {
                try await events.send(chunk([], usage: Usage(results: results, choicesPerPrompt: chat.options.n)))
            }
        }
    }
}
