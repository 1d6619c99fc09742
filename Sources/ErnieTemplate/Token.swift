/// Lexical tokens, as jinja2's lexer produces them.
enum TokenKind: Equatable, Sendable {
    case data
    case variableBegin, variableEnd
    case blockBegin, blockEnd
    case name, string, integer, float
    case op
    case eof
}

struct Token: Sendable {
    var kind: TokenKind
    /// Source text for names and operators, decoded text for strings and data.
    var value: String
    var line: Int
    var intValue = 0
    var floatValue = 0.0

    init(_ kind: TokenKind, _ value: String, line: Int) {
        self.kind = kind
        self.value = value
        self.line = line
    }

    func isOp(_ symbol: String) -> Bool { kind == .op && value == symbol }
    func isName(_ word: String) -> Bool { kind == .name && value == word }

    /// How jinja2 describes the token in error messages.
    var description: String {
        switch kind {
        case .name, .op: value
        case .data: "template data / text"
        case .variableBegin: "begin of print statement"
        case .variableEnd: "end of print statement"
        case .blockBegin: "begin of statement block"
        case .blockEnd: "end of statement block"
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .eof: "end of template"
        }
    }
}
