/// Compiles a GBNF-style EBNF grammar (the syntax of llama.cpp's GBNF and xgrammar's EBNF, as SGLang's `ebnf`
/// parameter takes it) to a `Grammar` whose start rule is `root`.
///
/// ```
/// root   ::= object
/// object ::= "{" ws ( pair ( "," ws pair )* )? "}"
/// pair   ::= string ":" ws value      # comments run to the end of the line
/// ```
/// Supported: rules `name ::= alternatives` (a rule continues until the next `name ::=`), alternation `|`, grouping
/// `( )`, string literals `"..."` / `'...'`, character classes `[a-z]` / `[^"\\]`, `.` (any character),
/// quantifiers `* + ? {m} {m,} {m,n}`, escapes `\n \t \r \\ \" \' \[ \] \- \xHH \uHHHH \UHHHHHHHH`, and token
/// terminals `<[id]>` (one vocabulary token by id). Recursion is allowed; left recursion is rejected.
public struct EBNFCompiler {
    public static let rootName = "root"

    private let text: [Unicode.Scalar]
    private var index = 0
    private var builder = GrammarBuilder()
    private var rules: [String: Int] = [:]
    private var definedRules: Set<String> = []
    /// Where each rule was first referenced, for errors about undefined rules.
    private var firstUse: [String: Int] = [:]

    private init(_ source: String) {
        text = Array(source.unicodeScalars)
    }

    public static func compile(_ source: String) throws(GrammarError) -> Grammar {
        var compiler = EBNFCompiler(source)
        try compiler.parseRules()
        guard let root = compiler.rules[rootName], compiler.definedRules.contains(rootName) else {
            throw GrammarError.invalidEBNF(line: 1, column: 1, message: "the grammar has no 'root' rule")
        }
        for (name, _) in compiler.rules.sorted(by: { $0.value < $1.value }) where !compiler.definedRules.contains(name) {
            let position = compiler.position(compiler.firstUse[name] ?? 0)
            throw GrammarError.invalidEBNF(
                line: position.line, column: position.column, message: "rule '\(name)' is used but never defined")
        }
        return try compiler.builder.build(root: root)
    }

    // MARK: Rules

    private mutating func parseRules() throws(GrammarError) {
        skipSpace()
        while index < text.count {
            let nameStart = index
            guard let name = readName() else { throw error("expected a rule name") }
            skipSpace()
            guard consume("::=") else { throw error("expected '::=' after rule name '\(name)'") }
            guard !definedRules.contains(name) else {
                index = nameStart
                throw error("rule '\(name)' is defined twice")
            }
            definedRules.insert(name)
            let rule = ruleIndex(name, at: nameStart)
            let body = try parseAlternatives()
            builder.define(rule, body)
            skipSpace()
        }
    }

    private mutating func ruleIndex(_ name: String, at offset: Int) -> Int {
        if let existing = rules[name] { return existing }
        let rule = builder.declare(name)
        rules[name] = rule
        firstUse[name] = offset
        return rule
    }

    private mutating func parseAlternatives() throws(GrammarError) -> GrammarExpr {
        var alternatives = [try parseSequence()]
        skipSpace()
        while peek == "|" {
            index += 1
            alternatives.append(try parseSequence())
            skipSpace()
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    private mutating func parseSequence() throws(GrammarError) -> GrammarExpr {
        var items: [GrammarExpr] = []
        while true {
            skipSpace()
            guard let c = peek, c != "|", c != ")" else { break }
            if isRuleStart() { break }
            let primary = try parsePrimary()
            items.append(try parseQuantifier(primary))
        }
        switch items.count {
        case 0: return .empty
        case 1: return items[0]
        default: return .sequence(items)
        }
    }

    /// Whether a new rule (`name ::=`) starts here.
    private func isRuleStart() -> Bool {
        var probe = self
        guard probe.readName() != nil else { return false }
        probe.skipSpace()
        return probe.consume("::=")
    }

    private mutating func parsePrimary() throws(GrammarError) -> GrammarExpr {
        guard let c = peek else { throw error("unexpected end of grammar") }
        switch c {
        case "\"", "'":
            return try parseString(quote: c)
        case "[":
            return .characters(try parseClass())
        case ".":
            index += 1
            return .characters(.all)
        case "(":
            index += 1
            let inner = try parseAlternatives()
            skipSpace()
            guard peek == ")" else { throw error("expected ')'") }
            index += 1
            return inner
        case "<":
            return try parseTokenTerminal()
        default:
            let start = index
            guard let name = readName() else { throw error("unexpected character '\(c)'") }
            return .rule(ruleIndex(name, at: start))
        }
    }

    private mutating func parseQuantifier(_ expr: GrammarExpr) throws(GrammarError) -> GrammarExpr {
        skipSpace()
        switch peek {
        case "*":
            index += 1
            return .repetition(expr, min: 0, max: nil)
        case "+":
            index += 1
            return .repetition(expr, min: 1, max: nil)
        case "?":
            index += 1
            return .repetition(expr, min: 0, max: 1)
        case "{":
            index += 1
            skipSpace()
            guard let low = readNumber() else { throw error("expected a number in '{m,n}'") }
            skipSpace()
            var high: Int? = low
            if peek == "," {
                index += 1
                skipSpace()
                high = readNumber()
                skipSpace()
            }
            guard peek == "}" else { throw error("expected '}'") }
            index += 1
            if let high, high < low { throw error("repetition {\(low),\(high)} has max below min") }
            guard low <= RegexCompiler.maximumRepetition, (high ?? 0) <= RegexCompiler.maximumRepetition else {
                throw error("repetition bounds above \(RegexCompiler.maximumRepetition) are not supported")
            }
            return .repetition(expr, min: low, max: high)
        default:
            return expr
        }
    }

    private mutating func parseString(quote: Unicode.Scalar) throws(GrammarError) -> GrammarExpr {
        index += 1
        var bytes: [UInt8] = []
        while true {
            guard let c = peek else { throw error("unterminated string literal") }
            if c == quote {
                index += 1
                break
            }
            if c == "\n" { throw error("newline inside a string literal") }
            if c == "\\" {
                bytes += UTF8Sequences.encode(try readEscape())
            } else {
                index += 1
                bytes += UTF8Sequences.encode(c.value)
            }
        }
        return .literal(bytes)
    }

    private mutating func parseClass() throws(GrammarError) -> CodePointSet {
        index += 1
        var negated = false
        if peek == "^" {
            negated = true
            index += 1
        }
        var set = CodePointSet()
        while true {
            guard let c = peek else { throw error("unterminated character class") }
            if c == "]" {
                index += 1
                break
            }
            let low = try classCharacter()
            if peek == "-", index + 1 < text.count, text[index + 1] != "]" {
                index += 1
                let high = try classCharacter()
                guard high >= low else { throw error("character range is out of order") }
                set.insert(low...high)
            } else {
                set.insert(low...low)
            }
        }
        return negated ? set.inverted : set
    }

    private mutating func classCharacter() throws(GrammarError) -> UInt32 {
        guard let c = peek else { throw error("unterminated character class") }
        if c == "\\" { return try readEscape() }
        index += 1
        return c.value
    }

    private mutating func parseTokenTerminal() throws(GrammarError) -> GrammarExpr {
        guard consume("<[") else { throw error("unexpected character '<'") }
        guard let id = readNumber(), id <= Int(Int32.max) else { throw error("expected a token id in '<[id]>'") }
        guard consume("]>") else { throw error("expected ']>' after the token id") }
        return .token(Int32(id))
    }

    private mutating func readEscape() throws(GrammarError) -> UInt32 {
        index += 1
        guard let c = peek else { throw error("unterminated escape") }
        index += 1
        switch c {
        case "n": return 10
        case "t": return 9
        case "r": return 13
        case "f": return 12
        case "v": return 11
        case "0": return 0
        case "x": return try readHex(2)
        case "u": return try readHex(4)
        case "U": return try readHex(8)
        case "\\", "\"", "'", "[", "]", "-", "^", "/", ".", "(", ")", "|", "*", "+", "?", "{", "}", "<", ">", " ":
            return c.value
        default:
            index -= 2
            throw error("unknown escape '\\\(c)'")
        }
    }

    private mutating func readHex(_ count: Int) throws(GrammarError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let c = peek, c.isASCII, let digit = UInt32(String(c), radix: 16) else {
                throw error("expected \(count) hexadecimal digits")
            }
            value = value * 16 + digit
            index += 1
        }
        guard value <= CodePointSet.maximum, !(0xD800...0xDFFF).contains(value) else {
            throw error("escape U+\(String(value, radix: 16, uppercase: true)) is not a Unicode scalar")
        }
        return value
    }

    // MARK: Lexing

    private mutating func readName() -> String? {
        var name = ""
        while let c = peek, c.isASCII, c.properties.isAlphabetic || c.properties.numericType != nil || c == "_"
            || c == "-"
        {
            name.unicodeScalars.append(c)
            index += 1
        }
        return name.isEmpty ? nil : name
    }

    private mutating func readNumber() -> Int? {
        var value: Int?
        while let c = peek, c.isASCII, let digit = Int(String(c)) {
            value = min((value ?? 0) * 10 + digit, Int(Int32.max) + 1)
            index += 1
        }
        return value
    }

    private mutating func skipSpace() {
        while let c = peek {
            if c == "#" {
                while let d = peek, d != "\n" { index += 1 }
            } else if c == " " || c == "\t" || c == "\n" || c == "\r" {
                index += 1
            } else {
                return
            }
        }
    }

    private mutating func consume(_ literal: String) -> Bool {
        let scalars = Array(literal.unicodeScalars)
        guard index + scalars.count <= text.count, Array(text[index..<(index + scalars.count)]) == scalars else {
            return false
        }
        index += scalars.count
        return true
    }

    private var peek: Unicode.Scalar? { index < text.count ? text[index] : nil }

    private func position(_ offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for c in text[0..<min(offset, text.count)] {
            if c == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    private func error(_ message: String) -> GrammarError {
        let (line, column) = position(index)
        return .invalidEBNF(line: line, column: column, message: message)
    }
}
