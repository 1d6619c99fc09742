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
        let (chat, parsing, requests) = try await server.prepare(bodySize: body.count) { () throws(APIError) in
            var chat = try ChatCompletionRequest(try parseJSONBody(body))
            try server.checkModel(chat.model)
            let parsing = ChatParsing(
                reasoning: server.configuration.reasoningParser != nil,
                toolCalls: server.configuration.toolCallParser != nil && chat.tools != nil)
            // The parsers read the format's tags, which may be special tokens.
            if parsing.isActive { chat.options.skipSpecialTokens = false }
            let constraint = try Self.constraint(for: chat, parsing: parsing, server: server)
            let text = try server.renderChat(
                messages: chat.messages, tools: chat.tools, addGenerationPrompt: chat.addGenerationPrompt,
                kwargs: chat.templateKwargs)
            let prompt = try server.encode(text)
            let requests = try server.makeRequests(
                prompts: [prompt], options: chat.options, maxTokensDefault: .restOfContext, maxParam: chat.maxParam,
                promptParam: "messages",
                logprobs: { _ in LogprobOptions(output: chat.logprobs, top: chat.topLogprobs) },
                idPrefix: id, constraint: constraint)
            return (chat, parsing, requests)
        }
        let run = try GenerationRun(requests, context: server, arrival: arrival)
        run.abortWhenClientLeaves(await context.channel.clientConnection())
        if chat.stream {
            return stream(run, chat: chat, parsing: parsing, id: id)
        }
        let results = try await run.collect()
        try server.checkFinished(results)
        let response = ChatCompletionResponse(
            id: id, created: server.now, model: server.model.name,
            choices: results.enumerated().map { index, result in
                let (message, finishReason) = Self.message(result, parsing: parsing)
                return ChatCompletionResponse.Choice(
                    index: index, message: message,
                    logprobs: chat.logprobs ? ChatLogprobs(result.outputLogprobs, context: server) : nil,
                    finishReason: finishReason, matchedStop: result.finishReason?.matched)
            },
            usage: Usage(results: results, choicesPerPrompt: chat.options.n))
        return try JSONResponse.make(response)
    }

    /// The structured-output constraint: forced tool calls, or a response format / grammar.
    static func constraint(for chat: ChatCompletionRequest, parsing: ChatParsing, server: ServerContext)
        throws(APIError) -> GrammarConstraint?
    {
        if chat.toolChoice.forcesCalls {
            guard server.configuration.toolCallParser != nil else {
                throw .invalidParameter(
                    "tool_choice",
                    "'tool_choice' '\(chat.toolChoice.description)' needs a server started with --tool-call-parser.")
            }
            guard let calls = chat.toolChoice.constraint(tools: chat.tools) else { return nil }
            return try server.grammars.constraint(
                ConstraintRequest(output: .toolCalls(calls), afterReasoning: parsing.reasoning), param: "tool_choice")
        }
        guard let structured = chat.structured else { return nil }
        // A response format describes the answer, after the reasoning; an explicit grammar covers the whole output.
        let isFormat: Bool
        switch structured.output {
        case .jsonObject, .jsonSchema: isFormat = true
        default: isFormat = false
        }
        return try server.grammars.constraint(
            ConstraintRequest(output: structured.output, afterReasoning: parsing.reasoning && isFormat),
            param: structured.param)
    }

    /// The message of a finished choice, split by the parsers, and its `finish_reason`.
    static func message(_ result: GenerationResult, parsing: ChatParsing)
        -> (ChatCompletionResponse.Message, String?)
    {
        guard parsing.isActive else { return (.init(content: result.text), result.finishReason?.openAI) }
        let output = ChatOutput.parse(result.text, reasoning: parsing.reasoning, toolCalls: parsing.toolCalls)
        var message = ChatCompletionResponse.Message(content: output.content.isEmpty ? nil : output.content)
        if parsing.reasoning { message.reasoningContent = .some(output.reasoning.flatMap { $0.isEmpty ? nil : $0 }) }
        message.toolCalls = output.toolCalls.map { .init(id: $0.id, name: $0.name, arguments: $0.arguments) }
        return (message, finishReason(result.finishReason, toolCalls: !output.toolCalls.isEmpty))
    }

    /// `tool_calls` when a choice that stopped normally made tool calls.
    static func finishReason(_ reason: FinishReason?, toolCalls: Bool) -> String? {
        switch reason {
        case .stopToken?, .stopString?: toolCalls ? "tool_calls" : "stop"
        default: reason?.openAI
        }
    }

    private func stream(_ run: GenerationRun, chat: ChatCompletionRequest, parsing: ChatParsing, id: String)
        -> Response
    {
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
            var parsers = run.requests.map { _ in
                ErnieOutputParser(reasoning: parsing.reasoning, toolCalls: parsing.toolCalls)
            }
            var madeToolCalls = run.requests.map { _ in false }
            try await run.forEachOutput { index, output in
                results[index].add(output)
                let logprobs =
                    chat.logprobs && !output.outputLogprobs.isEmpty
                    ? ChatLogprobs(output.outputLogprobs, context: server) : nil
                var deltas: [ChatCompletionChunk.Delta] = []
                if parsing.isActive {
                    var parsed = parsers[index].feed(output.text)
                    if output.finishReason != nil { parsed += parsers[index].finish() }
                    if parsed.contains(where: { if case .toolCallEnd = $0 { true } else { false } }) {
                        madeToolCalls[index] = true
                    }
                    deltas = StreamDeltas.deltas(parsed)
                } else if !output.text.isEmpty {
                    deltas = [.init(content: output.text)]
                }
                let finishReason = output.finishReason.flatMap {
                    Self.finishReason($0, toolCalls: madeToolCalls[index])
                }
                if deltas.isEmpty && (logprobs != nil || finishReason != nil) { deltas = [.init()] }
                for (position, delta) in deltas.enumerated() {
                    let last = position == deltas.count - 1
                    try await events.send(
                        chunk([
                            .init(
                                index: index, delta: delta, logprobs: last ? logprobs : nil,
                                finishReason: last ? finishReason : nil,
                                matchedStop: last ? output.finishReason?.matched : nil)
                        ]))
                }
            }
            if chat.includeUsage {
                try await events.send(chunk([], usage: Usage(results: results, choicesPerPrompt: chat.options.n)))
            }
        }
    }
}

/// Turns parser events into stream deltas: runs of reasoning or content text merged, each tool call part its own.
enum StreamDeltas {
    static func deltas(_ events: [ErnieOutputParser.Event]) -> [ChatCompletionChunk.Delta] {
        var deltas: [ChatCompletionChunk.Delta] = []
        func appendText(reasoning: String? = nil, content: String? = nil) {
            if var last = deltas.last, last.toolCalls == nil {
                if let reasoning, last.content == nil {
                    last.reasoningContent = (last.reasoningContent ?? "") + reasoning
                    deltas[deltas.count - 1] = last
                    return
                }
                if let content, last.reasoningContent == nil {
                    last.content = (last.content ?? "") + content
                    deltas[deltas.count - 1] = last
                    return
                }
            }
            deltas.append(.init(content: content, reasoningContent: reasoning))
        }
        for event in events {
            switch event {
            case .reasoning(let text) where !text.isEmpty:
                appendText(reasoning: text)
            case .content(let text) where !text.isEmpty:
                appendText(content: text)
            case .toolCallFailed(_, let remainder, _) where !remainder.isEmpty:
                appendText(content: remainder)
            case .toolCallBegin(let index, let id, let name):
                deltas.append(.init(toolCalls: [.init(index: index, id: id, name: name, arguments: "")]))
            case .toolCallArguments(let index, let text) where !text.isEmpty:
                deltas.append(.init(toolCalls: [.init(index: index, id: nil, name: nil, arguments: text)]))
            default:
                break
            }
        }
        return deltas
    }
}
