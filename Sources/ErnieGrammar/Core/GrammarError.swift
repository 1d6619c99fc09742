/// Why a schema, regex or grammar cannot be used for constrained decoding.
public enum GrammarError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The JSON Schema is malformed at `path` (a JSON pointer such as `#/properties/age`).
    case invalidSchema(path: String, message: String)
    /// The JSON Schema uses keywords this engine does not implement.
    case unsupportedSchemaKeywords(path: String, keywords: [String])
    /// The regular expression does not parse, or uses an unsupported feature, at character `offset`.
    case invalidRegex(offset: Int, message: String)
    /// The EBNF grammar does not parse at `line`:`column`.
    case invalidEBNF(line: Int, column: Int, message: String)
    /// The grammar is well-formed but cannot be compiled (undefined or left-recursive rules, ...).
    case invalidGrammar(String)
    /// The grammar or its automaton exceeds a size limit.
    case tooLarge(String)

    public var description: String {
        switch self {
        case .invalidSchema(let path, let message):
            return "invalid JSON schema at \(path): \(message)"
        case .unsupportedSchemaKeywords(let path, let keywords):
            let list = keywords.map { "'\($0)'" }.joined(separator: ", ")
            return "unsupported JSON schema keyword\(keywords.count == 1 ? "" : "s") \(list) at \(path)"
        case .invalidRegex(let offset, let message):
            return "invalid regex at character \(offset): \(message)"
        case .invalidEBNF(let line, let column, let message):
            return "invalid EBNF grammar at line \(line), column \(column): \(message)"
        case .invalidGrammar(let message):
            return "invalid grammar: \(message)"
        case .tooLarge(let message):
            return "grammar too large: \(message)"
        }
    }
}
