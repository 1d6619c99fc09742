/// The body of a non-streaming chat completion.
struct ChatCompletionResponse: Encodable, Sendable {
    struct Message: Encodable, Sendable {
        var role = "assistant"
        var content: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: JSONKey.self)
            try container.encode(role, forKey: JSONKey("role"))
            try container.encode(content, forKey: JSONKey("content"))
        }
    }

    struct Choice: Encodable, Sendable {
        var index: Int
        var message: Message
        var logprobs: ChatLogprobs?
        var finishReason: String?
        /// SGLang's `matched_stop`: the stop token id or string that ended the choice.
        var matchedStop: JSONValue?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: JSONKey.self)
            try container.encode(index, forKey: JSONKey("index"))
            try container.encode(message, forKey: JSONKey("message"))
            try container.encode(logprobs, forKey: JSONKey("logprobs"))
            try container.encode(finishReason, forKey: JSONKey("finish_reason"))
            if let matchedStop { try container.encode(matchedStop, forKey: JSONKey("matched_stop")) }
        }
    }

    var id: String
    var object = "chat.completion"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage
}

/// One event of a streaming chat completion: `choices` with deltas, or (last, when asked) only `usage`.
struct ChatCompletionChunk: Encodable, Sendable {
    struct Delta: Encodable, Sendable {
        var role: String?
        var content: String?
    }

    struct Choice: Encodable, Sendable {
        var index: Int
        var delta: Delta
        var logprobs: ChatLogprobs?
        var finishReason: String?
        var matchedStop: JSONValue?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: JSONKey.self)
            try container.encode(index, forKey: JSONKey("index"))
            try container.encode(delta, forKey: JSONKey("delta"))
            try container.encode(logprobs, forKey: JSONKey("logprobs"))
            try container.encode(finishReason, forKey: JSONKey("finish_reason"))
            if let matchedStop { try container.encode(matchedStop, forKey: JSONKey("matched_stop")) }
        }
    }

    var id: String
    var object = "chat.completion.chunk"
    var created: Int
    var model: String
    var choices: [Choice]
    /// Written as `null` on content chunks when the client asked for usage, omitted otherwise.
    var usage: Usage?
    var includeUsageField: Bool

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(id, forKey: JSONKey("id"))
        try container.encode(object, forKey: JSONKey("object"))
        try container.encode(created, forKey: JSONKey("created"))
        try container.encode(model, forKey: JSONKey("model"))
        try container.encode(choices, forKey: JSONKey("choices"))
        if includeUsageField { try container.encode(usage, forKey: JSONKey("usage")) }
    }
}
