/// An error raised while compiling or rendering a template, or while parsing JSON into a ``JinjaValue``.
///
/// `message` is the bare message (for `raise_exception(msg)` it is exactly `msg`); `line` is the template line the
/// error was detected on, when known; `description` combines both.
public struct TemplateError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The template text is not valid Jinja (also unknown filters/tests found at compile time).
        case syntax
        /// An operation failed while rendering (type errors, undefined values, unsupported features).
        case runtime
        /// The template called `raise_exception(message)`.
        case raised
        /// A resource limit (output size, steps, recursion depth) was exceeded.
        case limit
        /// Invalid JSON given to ``JinjaValue/init(json:)``.
        case json
    }

    /// The message, without location.
    public var message: String
    /// 1-based template line (or JSON line for `.json` errors), when known.
    public var line: Int?
    /// The category of the error.
    public var kind: Kind

    /// An error with a message and no location (kind `.runtime`).
    public init(message: String) {
        self.init(message: message, line: nil, kind: .runtime)
    }

    /// An error with a message, an optional line and a kind.
    public init(message: String, line: Int?, kind: Kind) {
        self.message = message
        self.line = line
        self.kind = kind
    }

    /// `"line N: message"` when the line is known, else the message.
    public var description: String {
        if let line { return "line \(line): \(message)" }
        return message
    }

    static func syntax(_ message: String, line: Int?) -> TemplateError {
        TemplateError(message: message, line: line, kind: .syntax)
    }

    static func runtime(_ message: String) -> TemplateError {
        TemplateError(message: message, line: nil, kind: .runtime)
    }

    static func limit(_ message: String) -> TemplateError {
        TemplateError(message: message, line: nil, kind: .limit)
    }
}
