/// A validated `POST /v1/chat/completions` body.
struct ChatCompletionRequest: Sendable {
    var model: String?
    /// Validated messages, keys in the client's order.
    var messages: [JSONObject]
    /// `tools`, unless `tool_choice` is `"none"`.
    var tools: JSONValue?
    var toolChoice: ToolChoice
    /// `response_format` (JSON object or schema), or SGLang's `regex` / `ebnf`.
    var structured: StructuredRequest?
    var addGenerationPrompt: Bool
    var templateKwargs: JSONObject?
    var options: GenerationOptions
    /// `max_completion_tokens` or `max_tokens`, whichever the client used (for error messages).
    var maxParam: String
    var stream: Bool
    var includeUsage: Bool
    var logprobs: Bool
    var topLogprobs: Int

    /// Largest `top_logprobs` accepted (OpenAI's limit).
    static let maximumTopLogprobs = 20

    init(_ body: JSONValue) throws(APIError) {
        let reader = try FieldReader(body, param: nil)
        model = try reader.string("model")
        messages = try ChatMessages.parse(reader.object["messages"])
        tools = try ChatMessages.parseTools(reader.value("tools"))
        toolChoice = try ToolChoice(reader.value("tool_choice"), tools: tools)
        if toolChoice == .none { tools = nil }
        let format = try StructuredOutput.responseFormat(reader)
        let extensions = try StructuredOutput.samplingFields(reader, keys: ["regex", "ebnf"])
        if format != nil && extensions != nil {
            throw .invalidParameter(
                extensions?.param, "'response_format' and '\(extensions?.param ?? "")' cannot be combined.")
        }
        structured = format ?? extensions
        if structured != nil, toolChoice.forcesCalls {
            throw .invalidParameter(
                "tool_choice",
                "'tool_choice' '\(toolChoice.description)' cannot be combined with a response format or a grammar.")
        }
        addGenerationPrompt = try reader.bool("add_generation_prompt") ?? true
        templateKwargs = try reader.object("chat_template_kwargs")

        options = GenerationOptions()
        try options.readSampling(reader)
        if reader.has("max_completion_tokens") {
            maxParam = "max_completion_tokens"
        } else {
            maxParam = "max_tokens"
        }
        options.maxNewTokens = try reader.int(maxParam, in: 1...Int.max)
        try options.validateLimits(maxParam: maxParam)

        stream = try reader.bool("stream") ?? false
        includeUsage =
            try reader.object("stream_options").map { streamOptions throws(APIError) in
                try FieldReader(streamOptions, prefix: "stream_options.").bool("include_usage") ?? false
            } ?? false
        logprobs = try reader.bool("logprobs") ?? false
        topLogprobs = try reader.int("top_logprobs", in: 0...Self.maximumTopLogprobs) ?? 0
        if topLogprobs > 0 && !logprobs {
            throw .invalidParameter("top_logprobs", "'top_logprobs' needs 'logprobs' set to true.")
        }
    }
}
