/// Splits template source into tokens exactly as jinja2's lexer does with `trim_blocks=True, lstrip_blocks=True`:
/// `{%- ... -%}` whitespace control, `+` to opt out, block and comment tags alone on a line lose their indentation,
/// one newline after `%}` / `#}` is removed, and a single trailing newline of the template is dropped.
struct Lexer {
    let source: [Unicode.Scalar]
    var position = 0
    private var tokens: [Token] = []
    private var lineStarting = true
    private let newlinePositions: [Int]

    init(_ text: String) {
        // Normalise \r\n and \r to \n, then drop one trailing newline (keep_trailing_newline=False).
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        var previousCR = false
        for c in text.unicodeScalars {
            if c == "\r" {
                scalars.append("\n")
                previousCR = true
                continue
            }
            if c == "\n" && previousCR {
                previousCR = false
                continue
            }
            previousCR = false
            scalars.append(c)
        }
        if scalars.last == "\n" { scalars.removeLast() }
        source = scalars
        newlinePositions = scalars.indices.filter { scalars[$0] == "\n" }
    }

    /// 1-based line of a source position.
    func line(at position: Int) -> Int {
        var lo = 0
        var hi = newlinePositions.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if newlinePositions[mid] < position { lo = mid + 1 } else { hi = mid }
        }
        return lo + 1
    }

    mutating func tokenize() throws -> [Token] {
        while position < source.count {
            try lexRoot()
        }
        tokens.append(Token(.eof, "", line: tokens.last?.line ?? 1))
        return tokens
    }

    private func at(_ p: Int) -> Unicode.Scalar? { p < source.count ? source[p] : nil }

    private func matches(_ text: String, at p: Int) -> Bool {
        var i = p
        for c in text.unicodeScalars {
            guard i < source.count, source[i] == c else { return false }
            i += 1
        }
        return true
    }

    private func skipSpace(from p: Int) -> Int {
        var i = p
        while i < source.count, PyText.isSpace(source[i]) { i += 1 }
        return i
    }

    private func syntaxError(_ message: String, at p: Int) -> TemplateError {
        .syntax(message, line: line(at: p))
    }

    // MARK: template data and tag openers

    private mutating func lexRoot() throws {
        var p = position
        var opener: Unicode.Scalar?
        while p + 1 < source.count {
            if source[p] == "{", ["{", "%", "#"].contains(source[p + 1]) {
                opener = source[p + 1]
                break
            }
            p += 1
        }
        guard let opener else {
            emitData(position, source.count)
            position = source.count
            return
        }
        let tagStart = p
        var afterOpener = tagStart + 2
        var sign: Unicode.Scalar?
        if let c = at(afterOpener), c == "-" || c == "+" {
            sign = c
            afterOpener += 1
        }
        let rawEnd = opener == "%" ? matchRawBegin(at: tagStart) : nil
        let textEnd = strippedEnd(start: position, end: tagStart, sign: sign, lstripAllowed: opener != "{")
        emitData(position, textEnd)
        if let rawEnd {
            lineStarting = source[rawEnd - 1] == "\n"
            position = rawEnd
            try lexRaw()
            return
        }
        position = afterOpener
        lineStarting = false
        switch opener {
        case "{":
            tokens.append(Token(.variableBegin, "{{", line: line(at: tagStart)))
            try lexTag(block: false)
        case "%":
            tokens.append(Token(.blockBegin, "{%", line: line(at: tagStart)))
            try lexTag(block: true)
        default:
            try lexComment(openedAt: tagStart)
        }
    }

    /// The end of the text before a tag after whitespace control (`-` strips all trailing whitespace; otherwise
    /// lstrip_blocks removes spaces/tabs between the line start and a block or comment tag).
    private func strippedEnd(start: Int, end: Int, sign: Unicode.Scalar?, lstripAllowed: Bool) -> Int {
        if sign == "-" {
            var e = end
            while e > start, PyText.isSpace(source[e - 1]) { e -= 1 }
            return e
        }
        guard sign != "+", lstripAllowed else { return end }
        var lineStart = end
        while lineStart > start, source[lineStart - 1] != "\n" { lineStart -= 1 }
        guard lineStart > start || lineStarting else { return end }
        guard lineStart < end, (lineStart..<end).allSatisfy({ PyText.isSpace(source[$0]) }) else { return end }
        return lineStart
    }

    private mutating func emitData(_ start: Int, _ end: Int) {
        guard end > start else { return }
        tokens.append(Token(.data, PyText.string(source[start..<end]), line: line(at: start)))
    }

    // MARK: raw blocks

    /// `{%[-+]? raw [-]?%}`: returns the position after the opener.
    private func matchRawBegin(at p: Int) -> Int? {
        var i = p + 2
        if let c = at(i), c == "-" || c == "+" { i += 1 }
        i = skipSpace(from: i)
        guard matches("raw", at: i) else { return nil }
        i = skipSpace(from: i + 3)
        if matches("-%}", at: i) { return skipSpace(from: i + 3) }
        if matches("%}", at: i) { return i + 2 }
        return nil
    }

    private mutating func lexRaw() throws {
        if position >= source.count { return }
        var p = position
        while p < source.count {
            if matches("{%", at: p) {
                var i = p + 2
                var sign: Unicode.Scalar?
                if let c = at(i), c == "-" || c == "+" {
                    sign = c
                    i += 1
                }
                i = skipSpace(from: i)
                if matches("endraw", at: i) {
                    i = skipSpace(from: i + 6)
                    var end: Int?
                    if matches("+%}", at: i) {
                        end = i + 3
                    } else if matches("-%}", at: i) {
                        end = skipSpace(from: i + 3)
                    } else if matches("%}", at: i) {
                        end = i + 2
                        if at(i + 2) == "\n" { end = i + 3 }
                    }
                    if let end {
                        let textEnd = strippedEnd(start: position, end: p, sign: sign, lstripAllowed: true)
                        emitData(position, textEnd)
                        lineStarting = source[end - 1] == "\n"
                        position = end
                        return
                    }
                }
            }
            p += 1
        }
        throw syntaxError("Missing end of raw directive", at: position)
    }

    // MARK: comments

    private mutating func lexComment(openedAt start: Int) throws {
        // jinja2's lexer only reports the missing end when at least one character follows the opener.
        if position >= source.count { return }
        var p = position
        while p < source.count {
            var end: Int?
            if matches("+#}", at: p) {
                end = p + 3
            } else if matches("-#}", at: p) {
                end = skipSpace(from: p + 3)
            } else if matches("#}", at: p) {
                end = at(p + 2) == "\n" ? p + 3 : p + 2
            }
            if let end {
                lineStarting = source[end - 1] == "\n"
                position = end
                return
            }
            p += 1
        }
        throw syntaxError("Missing end of comment tag", at: start)
    }

    // MARK: inside {{ }} and {% %}

    /// The position after a tag end at `p`, if there is one.
    private func tagEnd(block: Bool, at p: Int) -> Int? {
        if block {
            if matches("+%}", at: p) { return p + 3 }
            if matches("-%}", at: p) { return skipSpace(from: p + 3) }
            if matches("%}", at: p) { return at(p + 2) == "\n" ? p + 3 : p + 2 }
            return nil
        }
        if matches("-}}", at: p) { return skipSpace(from: p + 3) }
        if matches("}}", at: p) { return p + 2 }
        return nil
    }

    private mutating func lexTag(block: Bool) throws {
        var balancing: [Unicode.Scalar] = []
        while position < source.count {
            let p = position
            if balancing.isEmpty, let end = tagEnd(block: block, at: p) {
                tokens.append(Token(block ? .blockEnd : .variableEnd, block ? "%}" : "}}", line: line(at: p)))
                lineStarting = source[end - 1] == "\n"
                position = end
                return
            }
            let c = source[p]
            if PyText.isSpace(c) {
                position = skipSpace(from: p)
                continue
            }
            if let token = try lexNumber(at: p) {
                tokens.append(token)
                continue
            }
            if PyText.isWordChar(c) || c.properties.generalCategory == .nonspacingMark
                || c.properties.generalCategory == .spacingMark
            {
                var e = p
                while let x = at(e),
                    PyText.isWordChar(x) || x.properties.generalCategory == .nonspacingMark
                        || x.properties.generalCategory == .spacingMark
                {
                    e += 1
                }
                let name = PyText.string(source[p..<e])
                guard c == "_" || PyText.isAlpha(c) else {
                    throw syntaxError("Invalid character in identifier", at: p)
                }
                tokens.append(Token(.name, name, line: line(at: p)))
                position = e
                continue
            }
            if c == "'" || c == "\"" {
                if let token = try lexString(at: p, quote: c) {
                    tokens.append(token)
                    continue
                }
            }
            if let symbol = lexOperator(at: p) {
                switch symbol {
                case "{": balancing.append("}")
                case "(": balancing.append(")")
                case "[": balancing.append("]")
                case "}", ")", "]":
                    guard let expected = balancing.popLast() else {
                        throw syntaxError("unexpected '\(symbol)'", at: p)
                    }
                    if String(expected) != symbol {
                        throw syntaxError("unexpected '\(symbol)', expected '\(expected)'", at: p)
                    }
                default: break
                }
                tokens.append(Token(.op, symbol, line: line(at: p)))
                position = p + symbol.unicodeScalars.count
                continue
            }
            throw syntaxError("unexpected char \(PyText.repr(String(c))) at \(p)", at: p)
        }
    }

    private func lexOperator(at p: Int) -> String? {
        for op in ["//", "**", "==", "!=", ">=", "<="] where matches(op, at: p) { return op }
        let c = source[p]
        return "+-/*%~[](){}><=.:|,;".unicodeScalars.contains(c) ? String(c) : nil
    }
}
