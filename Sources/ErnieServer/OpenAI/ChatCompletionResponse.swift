/// The body of a non-streaming chat completion.
struct ChatCompletionResponse: Encodable, Sendable {
    struct Message: Encodable, Sendable {
        var role = "assistant"
        var content: String?
        /// Written (possibly `null`) only when the reasoning parser is on.
        var reasoningContent: String??
        var toolCalls: [ToolCallObject] = []

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: JSONKey.self)
            try container.encode(role, forKey: JSONKey("role"))
            try container.encode(content, forKey: JSONKey("content"))
            if let reasoningContent { try container.encode(reasoningContent, forKey: JSONKey("reasoning_content")) }
            if !toolCalls.isEmpty { try container.encode(toolCalls, forKey: JSONKey("tool_calls")) }
        }
    }

    /// `{"id", "type": "function", "function": {"name", "arguments"}}`.
    struct ToolCallObject: Encodable, Sendable {
        var id: String
        var name: String
        var arguments: String

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: JSONKey.self)
            try container.encode(id, forKey: JSONKey("id"))
            try container.encode("function", forKey: JSONKey("type"))
            try container.encode(FunctionObject(name: name, arguments: arguments), forKey: JSONKey("function"))
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
        var reasoningContent: String?
        var toolCalls: [ToolCallDelta]?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: JSONKey.self)
            if let role { try container.encode(role, forKey: JSONKey("role")) }
            if let content { try container.encode(content, forKey: JSONKey("content")) }
            if let reasoningContent { try container.encode(reasoningContent, forKey: JSONKey("reasoning_content")) }
            if let toolCalls { try container.encode(toolCalls, forKey: JSONKey("tool_calls")) }
        }
    }

    /// One tool call's part of a delta: the first carries `id`, `type` and the name, later ones argument text.
    struct ToolCallDelta: Encodable, Sendable {
        var index: Int
        var id: String?
        var name: String?
        var arguments: String

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: JSONKey.self)
            try container.encode(index, forKey: JSONKey("index"))
            if let id {
                try container.encode(id, forKey: JSONKey("id"))
                try container.encode("function", forKey: JSONKey("type"))
            }
            try container.encode(FunctionObject(name: name, arguments: arguments), forKey: JSONKey("function"))
        }
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

/// `{"name", "arguments"}` of a tool call (the name left out of argument deltas).
struct FunctionObject: Encodable, Sendable {
    var name: String?
    var arguments: String

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        if let name { try container.encode(name, forKey: JSONKey("name")) }
        try container.encode(arguments, forKey: JSONKey("arguments"))
    }
}
