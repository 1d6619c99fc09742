/// The body of a non-streaming completion, and (with `object` `text_completion` too, as OpenAI sends it) each event
/// of a streaming one.
struct CompletionResponse: Encodable, Sendable {
    struct Choice: Encodable, Sendable {
        var index: Int
        var text: String
        var logprobs: CompletionLogprobs?
        var finishReason: String?
        var matchedStop: JSONValue?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: JSONKey.self)
            try container.encode(index, forKey: JSONKey("index"))
            try container.encode(text, forKey: JSONKey("text"))
            try container.encode(logprobs, forKey: JSONKey("logprobs"))
            try container.encode(finishReason, forKey: JSONKey("finish_reason"))
            if let matchedStop { try container.encode(matchedStop, forKey: JSONKey("matched_stop")) }
        }
    }

    var id: String
    var object = "text_completion"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage?
    /// Whether `usage` is written when nil (as `null`): streaming chunks when the client asked for usage.
    var writeNullUsage = false

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(id, forKey: JSONKey("id"))
        try container.encode(object, forKey: JSONKey("object"))
        try container.encode(created, forKey: JSONKey("created"))
        try container.encode(model, forKey: JSONKey("model"))
        try container.encode(choices, forKey: JSONKey("choices"))
        if usage != nil || writeNullUsage { try container.encode(usage, forKey: JSONKey("usage")) }
    }
}
