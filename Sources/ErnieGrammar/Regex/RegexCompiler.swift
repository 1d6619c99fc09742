/// Compiles a regular expression (a practical subset of Python's `re` syntax) to a `GrammarExpr` matching exactly
/// the strings the regex fully matches (`re.fullmatch`), as UTF-8.
///
/// Supported: literals; `.` (any character but newline); classes `[...]`, `[^...]` with ranges and the escapes below;
/// `\d \w \s` (ASCII digits, word characters, whitespace) and `\D \W \S` (their complements, minus every character
/// Unicode counts as a digit / word character / space, so they never match what Python's Unicode classes reject);
/// `\n \t \r \f \v \0 \xHH \uHHHH \UHHHHHHHH` and escaped punctuation (inside a negated class, `\d \w \s` exclude
/// their whole Unicode classes, so generated text always matches under Python's Unicode semantics); groups `(...)`, `(?:...)`, `(?P<name>...)`,
/// `(?<name>...)`; alternation `|`; quantifiers `* + ? {m} {m,} {,n} {m,n}` with optional lazy `?` (the language is
/// the same); `^`/`\A` at the start and `$`/`\Z`/`\z` at the end (a match always spans the whole output anyway).
/// Rejected with an error: backreferences, lookaround, word boundaries, inline flags, possessive quantifiers.
public struct RegexCompiler {
    /// Largest repetition bound accepted in `{m,n}`.
    public static let maximumRepetition = 10_000

    /// Turns a set of characters into an expression (JSON strings escape some characters).
    public typealias CharacterEncoder = (CodePointSet) -> GrammarExpr

    private let pattern: [Unicode.Scalar]
    private var index = 0
    private let encode: CharacterEncoder

    private init(pattern: String, encode: @escaping CharacterEncoder) {
        self.pattern = Array(pattern.unicodeScalars)
        self.encode = encode
    }

    /// The expression matching `pattern`'s full matches; `encode` spells each character (default: its UTF-8).
    public static func compile(
        _ pattern: String, encode: @escaping CharacterEncoder = { .characters($0) }
    ) throws(GrammarError) -> GrammarExpr {
        var compiler = RegexCompiler(pattern: pattern, encode: encode)
        compiler.skipStartAnchor()
        let expr = try compiler.parseAlternation()
        guard compiler.index == compiler.pattern.count else {
            throw compiler.error(compiler.peek == ")" ? "unbalanced parenthesis" : "unexpected character")
        }
        return expr
    }

    // MARK: Grammar

    private mutating func parseAlternation() throws(GrammarError) -> GrammarExpr {
        var alternatives = [try parseConcatenation()]
        while peek == "|" {
            index += 1
            alternatives.append(try parseConcatenation())
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    private mutating func parseConcatenation() throws(GrammarError) -> GrammarExpr {
        var parts: [GrammarExpr] = []
        while let c = peek, c != "|", c != ")" {
            if isEndAnchor() {
                index += c == "$" ? 1 : 2
                guard index == pattern.count else { throw error("'$' is only supported at the end of the pattern") }
                continue
            }
            let atom = try parseAtom()
            parts.append(try parseQuantifiers(atom))
        }
        switch parts.count {
        case 0: return .empty
        case 1: return parts[0]
        default: return .sequence(parts)
        }
    }

    private mutating func parseQuantifiers(_ atom: GrammarExpr) throws(GrammarError) -> GrammarExpr {
        var expr = atom
        var quantified = false
        while let c = peek {
            let bounds: (Int, Int?)
            let start = index
            switch c {
            case "*": bounds = (0, nil); index += 1
            case "+": bounds = (1, nil); index += 1
            case "?": bounds = (0, 1); index += 1
            case "{":
                guard let parsed = try parseBraces() else { return expr }
                bounds = parsed
            default:
                return expr
            }
            if quantified {
                index = start
                throw error("multiple repeat")
            }
            quantified = true
            expr = .repetition(expr, min: bounds.0, max: bounds.1)
            if peek == "?" {
                index += 1  // lazy: same language
            } else if peek == "+" {
                throw error("possessive quantifiers are not supported")
            }
        }
        return expr
    }

    /// `{m}`, `{m,}`, `{,n}`, `{m,n}`; nil (nothing consumed) when the brace is a literal, as in Python.
    private mutating func parseBraces() throws(GrammarError) -> (Int, Int?)? {
        let start = index
        index += 1
        let low = readNumber()
        var high: Int?
        var hasComma = false
        if peek == "," {
            hasComma = true
            index += 1
            high = readNumber()
        }
        guard peek == "}", low != nil || hasComma else {
            index = start
            return nil
        }
        index += 1
        let min = low ?? 0
        let max = hasComma ? high : min
        if let max, max < min {
            index = start
            throw error("min repeat greater than max repeat")
        }
        guard min <= Self.maximumRepetition, (max ?? 0) <= Self.maximumRepetition else {
            index = start
            throw error("repetition bounds above \(Self.maximumRepetition) are not supported")
        }
        return (min, max)
    }

    private mutating func readNumber() -> Int? {
        var value: Int?
        while let c = peek, let digit = c.properties.numericType == .decimal && c.isASCII ? Int(c.value) - 48 : nil {
            value = min((value ?? 0) * 10 + digit, Self.maximumRepetition + 1)
            index += 1
        }
        return value
    }

    private mutating func parseAtom() throws(GrammarError) -> GrammarExpr {
        guard let c = peek else { throw error("unexpected end of pattern") }
        switch c {
        case "(":
            return try parseGroup()
        case "[":
            return encode(try parseClass())
        case ".":
            index += 1
            return encode(CodePointSet(ranges: [0...9, 11...CodePointSet.maximum]))
        case "\\":
            switch try parseEscape(inClass: false) {
            case .set(let set, _): return encode(set)
            case .character(let value): return encode(CodePointSet(value...value))
            }
        case "*", "+", "?":
            throw error("nothing to repeat")
        case "^":
            throw error("'^' is only supported at the start of the pattern")
        default:
            index += 1
            return encode(CodePointSet(c))
        }
    }

    private mutating func parseGroup() throws(GrammarError) -> GrammarExpr {
        index += 1
        if peek == "?" {
            index += 1
            switch peek {
            case ":":
                index += 1
            case "P" where index + 1 < pattern.count && pattern[index + 1] == "<":
                index += 2
                try skipGroupName()
            case "<" where index + 1 < pattern.count && pattern[index + 1] != "=" && pattern[index + 1] != "!":
                index += 1
                try skipGroupName()
            case "=", "!", "<":
                throw error("lookaround assertions are not supported")
            case "P":
                throw error("named backreferences are not supported")
            default:
                throw error("inline flags and other group extensions are not supported")
            }
        }
        let inner = try parseAlternation()
        guard peek == ")" else { throw error("missing ), unterminated subpattern") }
        index += 1
        return inner
    }

    private mutating func skipGroupName() throws(GrammarError) {
        while let c = peek, c != ">" {
            guard c.properties.isAlphabetic || c == "_" || (c.isASCII && c.properties.numericType != nil) else {
                throw error("bad character in group name")
            }
            index += 1
        }
        guard peek == ">" else { throw error("missing >, unterminated name") }
        index += 1
    }

    private mutating func parseClass() throws(GrammarError) -> CodePointSet {
        let start = index
        index += 1
        var negated = false
        if peek == "^" {
            negated = true
            index += 1
        }
        // Escapes like \s stand for a subset of Python's Unicode class (sound in a positive class) and a superset
        // of it (what a negated class must exclude).
        var set = CodePointSet()
        var excluded = CodePointSet()
        var first = true
        while true {
            guard let c = peek else {
                index = start
                throw error("unterminated character set")
            }
            if c == "]" && !first {
                index += 1
                break
            }
            first = false
            let low: UInt32
            switch try classItem() {
            case .set(let subset, let superset):
                set = set.union(subset)
                excluded = excluded.union(superset)
                continue
            case .character(let value):
                low = value
            }
            if peek == "-", index + 1 < pattern.count, pattern[index + 1] != "]" {
                index += 1
                guard case .character(let high) = try classItem() else {
                    throw error("bad character range")
                }
                guard high >= low else { throw error("bad character range") }
                set.insert(low...high)
            } else {
                set.insert(low...low)
            }
        }
        return negated ? set.union(excluded).inverted : set
    }

    private enum Item {
        case character(UInt32)
        /// A class escape: the characters it is safe to generate, and every character it might stand for.
        case set(CodePointSet, CodePointSet)
    }

    private mutating func classItem() throws(GrammarError) -> Item {
        guard let c = peek else { throw error("unterminated character set") }
        if c == "\\" { return try parseEscape(inClass: true) }
        index += 1
        return .character(c.value)
    }

    private mutating func parseEscape(inClass: Bool) throws(GrammarError) -> Item {
        index += 1
        guard let c = peek else { throw error("bad escape (end of pattern)") }
        index += 1
        switch c {
        case "d": return .set(.asciiDigits, CodePointSet.unicodeDigitsSuperset)
        case "D": return .set(CodePointSet.unicodeDigitsSuperset.inverted, CodePointSet.asciiDigits.inverted)
        case "w": return .set(.asciiWord, CodePointSet.unicodeWordSuperset)
        case "W": return .set(CodePointSet.unicodeWordSuperset.inverted, CodePointSet.asciiWord.inverted)
        case "s": return .set(.asciiSpace, CodePointSet.unicodeSpaceSuperset)
        case "S": return .set(CodePointSet.unicodeSpaceSuperset.inverted, CodePointSet.asciiSpace.inverted)
        case "n": return .character(10)
        case "t": return .character(9)
        case "r": return .character(13)
        case "f": return .character(12)
        case "v": return .character(11)
        case "a": return .character(7)
        case "0": return .character(0)
        case "x": return .character(try readHex(count: 2))
        case "u": return .character(try readHex(count: 4))
        case "U": return .character(try readHex(count: 8))
        case "b" where inClass: return .character(8)
        case "b", "B": throw error("word boundaries are not supported")
        case "1"..."9": throw error("backreferences are not supported")
        default:
            if c.isASCII && (c.properties.isAlphabetic || c.properties.numericType != nil) {
                index -= 2
                throw error("bad escape \\\(c)")
            }
            return .character(c.value)
        }
    }

    private mutating func readHex(count: Int) throws(GrammarError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let c = peek, let digit = c.isASCII ? UInt32(String(c), radix: 16) : nil else {
                throw error("incomplete hexadecimal escape")
            }
            value = value * 16 + digit
            index += 1
        }
        guard value <= CodePointSet.maximum else { throw error("escape outside the Unicode range") }
        return value
    }

    // MARK: Anchors and helpers

    private mutating func skipStartAnchor() {
        if peek == "^" {
            index += 1
        } else if peek == "\\", index + 1 < pattern.count, pattern[index + 1] == "A" {
            index += 2
        }
    }

    private func isEndAnchor() -> Bool {
        guard let c = peek else { return false }
        if c == "$" { return true }
        if c == "\\", index + 1 < pattern.count, pattern[index + 1] == "Z" || pattern[index + 1] == "z" {
            return true
        }
        return false
    }

    private var peek: Unicode.Scalar? { index < pattern.count ? pattern[index] : nil }

    private func error(_ message: String) -> GrammarError {
        .invalidRegex(offset: index, message: message)
    }
}
