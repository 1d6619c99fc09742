import ErnieRuntime

/// One entry of a chat completion's `logprobs.content`.
struct ChatTokenLogprob: Encodable, Sendable {
    struct Alternative: Encodable, Sendable {
        var token: String
        var logprob: Float
        var bytes: [UInt8]
    }

    var token: String
    var logprob: Float
    var bytes: [UInt8]
    var topLogprobs: [Alternative]

    enum CodingKeys: String, CodingKey {
        case token, logprob, bytes
        case topLogprobs = "top_logprobs"
    }
}

/// A chat choice's `logprobs`: `{"content": [...]}`.
struct ChatLogprobs: Encodable, Sendable {
    var content: [ChatTokenLogprob]

    init(_ entries: [LogprobEntry], context: ServerContext) {
        content = entries.map { entry in
            let text = context.tokenText(entry.token)
            return ChatTokenLogprob(
                token: text, logprob: jsonLogprob(entry.logprob), bytes: Array(text.utf8),
                topLogprobs: entry.top.map { alternative in
                    let altText = context.tokenText(Int(alternative.token))
                    return .init(token: altText, logprob: jsonLogprob(alternative.logprob), bytes: Array(altText.utf8))
                })
        }
    }
}

/// A completion choice's `logprobs`: parallel lists `tokens`, `token_logprobs` (null for the first prompt token with
/// `echo`), `top_logprobs` (token → logprob maps) and `text_offset` (character offsets into the returned text).
struct CompletionLogprobs: Encodable, Sendable {
    var tokens: [String] = []
    var tokenLogprobs: [Float?] = []
    var topLogprobs: [JSONValue] = []
    var textOffset: [Int] = []

    enum CodingKeys: String, CodingKey {
        case tokens
        case tokenLogprobs = "token_logprobs"
        case topLogprobs = "top_logprobs"
        case textOffset = "text_offset"
    }

    /// Appends tokens whose text starts at character `offset` of the returned text; returns the offset after them.
    /// Each `top_logprobs` map holds the most likely alternatives and the chosen token (`null` where there is no
    /// log-probability, the first prompt token).
    @discardableResult
    mutating func append(tokens ids: [Int], entries: [LogprobEntry?], offset: Int, context: ServerContext) -> Int {
        var offset = offset
        for (id, entry) in zip(ids, entries) {
            let text = context.tokenText(id)
            tokens.append(text)
            tokenLogprobs.append(entry.map { jsonLogprob($0.logprob) })
            if let entry {
                var map = JSONObject()
                for alternative in entry.top {
                    let altText = context.tokenText(Int(alternative.token))
                    if map[altText] == nil { map[altText] = .float(jsonLogprob(alternative.logprob)) }
                }
                if map[text] == nil { map[text] = .float(jsonLogprob(entry.logprob)) }
                topLogprobs.append(.object(map))
            } else {
                topLogprobs.append(.null)
            }
            textOffset.append(offset)
            offset += text.unicodeScalars.count
        }
        return offset
    }
}
