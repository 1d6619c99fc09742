/// A tokenizer file could not be loaded: a missing, truncated or malformed file, or a component this implementation
/// does not support. The message names the file and the offending key, field or component.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

extension TokenizerError {
    /// `<file>: <what>`.
    static func file(_ path: String, _ what: String) -> TokenizerError {
        TokenizerError(message: "\(path): \(what)")
    }

    /// `<file>: unsupported <kind> type "<type>"`.
    static func unsupported(_ path: String, _ kind: String, _ type: String) -> TokenizerError {
        TokenizerError(message: "\(path): unsupported \(kind) type \"\(type)\"")
    }
}
