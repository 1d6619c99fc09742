/// A chat answer split by the output parsers: reasoning, content and tool calls (non-streaming form).
struct ChatOutput: Sendable, Equatable {
    struct ToolCall: Sendable, Equatable {
        var id: String
        var name: String
        /// The arguments as JSON text, as the model wrote them.
        var arguments: String
    }

    var reasoning: String?
    var content: String
    var toolCalls: [ToolCall]

    /// Splits a whole output. Tool calls that are not well-formed stay in the content as the model wrote them.
    static func parse(_ text: String, reasoning: Bool, toolCalls: Bool) -> ChatOutput {
        var parser = ErnieOutputParser(reasoning: reasoning, toolCalls: toolCalls)
        var events = parser.feed(text)
        events += parser.finish()
        return assemble(events, reasoning: reasoning)
    }

    static func assemble(_ events: [ErnieOutputParser.Event], reasoning: Bool) -> ChatOutput {
        var output = ChatOutput(reasoning: reasoning ? "" : nil, content: "", toolCalls: [])
        var calls: [Int: ToolCall] = [:]
        var order: [Int] = []
        for event in events {
            switch event {
            case .reasoning(let text):
                output.reasoning = (output.reasoning ?? "") + text
            case .content(let text):
                output.content += text
            case .toolCallBegin(let index, let id, let name):
                calls[index] = ToolCall(id: id, name: name, arguments: "")
            case .toolCallArguments(let index, let text):
                calls[index]?.arguments += text
            case .toolCallEnd(let index):
                order.append(index)
            case .toolCallFailed(let index, _, let raw):
                calls[index] = nil
                output.content += raw
            }
        }
        output.toolCalls = order.compactMap { calls[$0] }
        return output
    }
}

/// Which output parsers a chat request runs.
struct ChatParsing: Sendable, Equatable {
    var reasoning: Bool
    var toolCalls: Bool

    var isActive: Bool { reasoning || toolCalls }

    static let none = ChatParsing(reasoning: false, toolCalls: false)
}
