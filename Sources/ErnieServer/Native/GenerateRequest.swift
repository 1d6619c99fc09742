/// A validated SGLang `POST /generate` body.
struct GenerateRequest: Sendable {
    enum Input: Sendable {
        case texts([String])
        case tokens([[Int]])
    }

    var input: Input
    /// Whether the client sent a list of prompts (the response is then a list).
    var isBatch: Bool
    /// Options per prompt (one `sampling_params` object for all, or one per prompt).
    var options: [GenerationOptions]
    var stream: Bool
    var returnLogprob: Bool
    /// `logprob_start_len`; -1 (the default) returns log-probabilities of output tokens only.
    var logprobStartLen: Int
    var topLogprobsNum: Int
    var returnTextInLogprobs: Bool
    /// `rid`: the client's request ids, one per prompt.
    var rids: [String]?

    /// `max_new_tokens` when not given (clamped to what the context leaves).
    static let defaultMaxNewTokens = 128
    static let maximumTopLogprobs = 20

    init(_ body: JSONValue) throws(APIError) {
        let reader = try FieldReader(body, param: nil)
        let text = reader.value("text")
        let ids = reader.value("input_ids")
        switch (text, ids) {
        case (nil, nil):
            throw .badRequest("Either 'text' or 'input_ids' must be given.")
        case (_?, _?):
            throw .badRequest("Give either 'text' or 'input_ids', not both.")
        case (let text?, nil):
            switch text {
            case .string(let single):
                input = .texts([single])
                isBatch = false
            case .array:
                guard let texts = try reader.stringList("text"), !texts.isEmpty else {
                    throw .invalidParameter("text", "'text' must not be an empty list.")
                }
                input = .texts(texts)
                isBatch = true
            default:
                throw .invalidParameter(
                    "text", "'text' must be a string or a list of strings, got \(text.typeDescription).")
            }
        case (nil, let ids?):
            guard case .array(let elements) = ids else {
                throw .invalidParameter(
                    "input_ids",
                    "'input_ids' must be a list of token ids or a list of such lists, got \(ids.typeDescription).")
            }
            if case .array? = elements.first {
                var lists: [[Int]] = []
                for (i, element) in elements.enumerated() {
                    guard case .array(let list) = element else {
                        throw .invalidParameter(
                            "input_ids[\(i)]",
                            "'input_ids[\(i)]' must be a list of token ids, got \(element.typeDescription).")
                    }
                    lists.append(try FieldReader.intList(list, param: "input_ids[\(i)]"))
                }
                input = .tokens(lists)
                isBatch = true
            } else {
                input = .tokens([try FieldReader.intList(elements, param: "input_ids")])
                isBatch = false
            }
        }
        let count = input.count
        options = try Self.parseSamplingParams(reader.value("sampling_params"), prompts: count)
        stream = try reader.bool("stream") ?? false
        returnLogprob = try reader.bool("return_logprob") ?? false
        logprobStartLen = try reader.int("logprob_start_len", in: -1...Int.max) ?? -1
        topLogprobsNum = try reader.int("top_logprobs_num", in: 0...Self.maximumTopLogprobs) ?? 0
        returnTextInLogprobs = try reader.bool("return_text_in_logprobs") ?? false
        rids = try reader.stringList("rid")
        if let rids, rids.count != count {
            throw .invalidParameter("rid", "'rid' must have one id per prompt (\(count)), got \(rids.count).")
        }
        for key in ["input_embeds", "image_data", "audio_data", "lora_path"] where reader.has(key) {
            throw .invalidParameter(key, "'\(key)' is not supported by this server.")
        }
    }

    private static func parseSamplingParams(_ value: JSONValue?, prompts: Int) throws(APIError) -> [GenerationOptions] {
        guard let value else {
            return Array(repeating: try parseOptions(nil, param: "sampling_params"), count: prompts)
        }
        switch value {
        case .object:
            return Array(repeating: try parseOptions(value, param: "sampling_params"), count: prompts)
        case .array(let list):
            guard list.count == prompts else {
                throw .invalidParameter(
                    "sampling_params",
                    "'sampling_params' must have one object per prompt (\(prompts)), got \(list.count).")
            }
            var result: [GenerationOptions] = []
            for (i, element) in list.enumerated() {
                result.append(try parseOptions(element, param: "sampling_params[\(i)]"))
            }
            return result
        default:
            throw .invalidParameter(
                "sampling_params", "'sampling_params' must be an object, got \(value.typeDescription).")
        }
    }

    private static func parseOptions(_ value: JSONValue?, param: String) throws(APIError) -> GenerationOptions {
        var options = GenerationOptions()
        guard let value else { return options }
        let reader = try FieldReader(value, param: param, prefix: param + ".")
        try options.readSampling(reader)
        if options.seed == nil { options.seed = try reader.int("sampling_seed") }
        options.maxNewTokens = try reader.int("max_new_tokens", in: 0...Int.max)
        try options.validateLimits(maxParam: "max_new_tokens")
        options.structured = try StructuredOutput.samplingFields(reader)
        if reader.has("structural_tag") {
            throw .invalidParameter(
                reader.param("structural_tag"), "'\(reader.param("structural_tag"))' is not supported by this server.")
        }
        return options
    }
}

extension GenerateRequest.Input {
    var count: Int {
        switch self {
        case .texts(let texts): texts.count
        case .tokens(let lists): lists.count
        }
    }
}
