/// A compiled Hugging Face chat template (a Jinja template rendered as jinja2 does with transformers' settings:
/// `trim_blocks`, `lstrip_blocks`, `tojson` without ASCII escaping, `raise_exception`).
public struct ChatTemplate: Sendable {
    public init(source: String) throws {
        throw TemplateError(message: "templates are not implemented yet")
    }

    /// Renders the template with the given variables (`messages`, `tools`, `add_generation_prompt`, the special token
    /// strings, and any `chat_template_kwargs`).
    public func render(_ context: [String: JinjaValue]) throws -> String { "" }
}

/// A value in a template context; objects keep their key order (needed for `tojson` to match Python).
public indirect enum JinjaValue: Sendable, Equatable {
    case undefined
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JinjaValue])
    case object([(String, JinjaValue)])

    public static func == (lhs: JinjaValue, rhs: JinjaValue) -> Bool {
        switch (lhs, rhs) {
        case (.undefined, .undefined), (.none, .none): true
        case let (.bool(a), .bool(b)): a == b
        case let (.int(a), .int(b)): a == b
        case let (.double(a), .double(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.object(a), .object(b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}

public struct TemplateError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
