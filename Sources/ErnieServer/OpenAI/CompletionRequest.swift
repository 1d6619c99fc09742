/// A validated `POST /v1/completions` body.
struct CompletionRequest: Sendable {
    /// The prompt(s): text, or token ids.
    enum Prompts: Sendable {
        case texts([String])
        case tokens([[Int]])
    }

    var model: String?
    var prompts: Prompts
    var options: GenerationOptions
    var echo: Bool
    /// `logprobs`: how many alternatives to list per token; `nil` for no log-probabilities.
    var logprobs: Int?
    var stream: Bool
    var includeUsage: Bool

    /// Largest `logprobs` accepted.
    static let maximumLogprobs = 20
    /// Tokens generated when `max_tokens` is not given (OpenAI's default).
    static let defaultMaxTokens = 16

    init(_ body: JSONValue) throws(APIError) {
        let reader = try FieldReader(body, param: nil)
        model = try reader.string("model")
        prompts = try Self.parsePrompts(reader.value("prompt"))
        if let suffix = try reader.string("suffix"), !suffix.isEmpty {
            throw .invalidParameter("suffix", "'suffix' is not supported by this server.")
        }
        options = GenerationOptions()
        try options.readSampling(reader)
        options.maxNewTokens = try reader.int("max_tokens", in: 0...Int.max)
        try options.validateLimits(maxParam: "max_tokens")
        let format = try StructuredOutput.responseFormat(reader)
        let extensions = try StructuredOutput.samplingFields(reader)
        if format != nil && extensions != nil {
            throw .invalidParameter(
                extensions?.param, "'response_format' and '\(extensions?.param ?? "")' cannot be combined.")
        }
        options.structured = format ?? extensions
        if let bestOf = try reader.int("best_of"), bestOf != 1, bestOf != options.n {
            throw .invalidParameter("best_of", "'best_of' other than 1 or 'n' is not supported by this server.")
        }
        echo = try reader.bool("echo") ?? false
        logprobs = try reader.int("logprobs", in: 0...Self.maximumLogprobs)
        stream = try reader.bool("stream") ?? false
        includeUsage =
            try reader.object("stream_options").map { streamOptions throws(APIError) in
                try FieldReader(streamOptions, prefix: "stream_options.").bool("include_usage") ?? false
            } ?? false
    }

    /// `prompt`: a string, a list of strings, a list of token ids, or a list of lists of token ids.
    static func parsePrompts(_ value: JSONValue?) throws(APIError) -> Prompts {
        guard let value else { throw .invalidParameter("prompt", "'prompt' is required.") }
        switch value {
        case .string(let text):
            return .texts([text])
        case .array(let elements):
            guard let first = elements.first else {
                throw .invalidParameter("prompt", "'prompt' must not be an empty list.")
            }
            switch first {
            case .string:
                var texts: [String] = []
                for (i, element) in elements.enumerated() {
                    guard case .string(let text) = element else {
                        throw .invalidParameter(
                            "prompt[\(i)]",
                            "'prompt[\(i)]' must be a string like the first element, got \(element.typeDescription).")
                    }
                    texts.append(text)
                }
                return .texts(texts)
            case .int, .double:
                return .tokens([try FieldReader.intList(elements, param: "prompt")])
            case .array:
                var lists: [[Int]] = []
                for (i, element) in elements.enumerated() {
                    guard case .array(let ids) = element else {
                        throw .invalidParameter(
                            "prompt[\(i)]",
                            "'prompt[\(i)]' must be a list of token ids, got \(element.typeDescription).")
                    }
                    lists.append(try FieldReader.intList(ids, param: "prompt[\(i)]"))
                }
                return .tokens(lists)
            default:
                throw .invalidParameter(
                    "prompt",
                    "'prompt' must be a string, a list of strings or a list of token ids; its first element is "
                        + "\(first.typeDescription)."
                )
            }
        default:
            throw .invalidParameter(
                "prompt",
                "'prompt' must be a string, a list of strings or a list of token ids, got \(value.typeDescription).")
        }
    }
}
