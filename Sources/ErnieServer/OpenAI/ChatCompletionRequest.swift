/// A validated `POST /v1/chat/completions` body.
struct ChatCompletionRequest: Sendable {
    var model: String?
    /// Validated messages, keys in the client's order.
    var messages: [JSONObject]
    /// `tools`, unless `tool_choice` is `"none"`.
    var tools: JSONValue?
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
        switch reader.value("tool_choice") {
        case nil, .string("auto"), .string("required"), .object:
            break
        case .string("none"):
            tools = nil
        case let other?:
            throw .invalidParameter(
                "tool_choice", "'tool_choice' must be 'none', 'auto', 'required' or an object, got \(other).")
        }
        if let format = try reader.object("response_format") {
            let type = try FieldReader(format, prefix: "response_format.").string("type") ?? "text"
            guard type == "text" else {
                throw .invalidParameter(
                    "response_format.type",
                    "response_format '\(type)' is not supported by this server (no constrained decoding); use 'text'.")
            }
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
