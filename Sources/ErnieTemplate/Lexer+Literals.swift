/// Number and string literals, with jinja2's regular expressions and Python's escape decoding.
extension Lexer {
    private func isDigit(_ c: Unicode.Scalar?) -> Bool {
        guard let c else { return false }
        return c >= "0" && c <= "9"
    }

    private func at(_ p: Int) -> Unicode.Scalar? { p < source.count ? source[p] : nil }

    /// `(\d+_)*\d+` starting at `p`; returns its end.
    private func digitRun(at p: Int) -> Int? {
        guard isDigit(at(p)) else { return nil }
        var i = p
        while isDigit(at(i)) { i += 1 }
        while at(i) == "_", isDigit(at(i + 1)) {
            i += 1
            while isDigit(at(i)) { i += 1 }
        }
        return i
    }

    /// `e[+-]?(\d+_)*\d+` at `p`.
    private func exponent(at p: Int) -> Int? {
        guard let c = at(p), c == "e" || c == "E" else { return nil }
        var i = p + 1
        if let s = at(i), s == "+" || s == "-" { i += 1 }
        return digitRun(at: i)
    }

    /// A float or integer token at `p` (and moves past it), or nil.
    mutating func lexNumber(at p: Int) throws -> Token? {
        guard isDigit(at(p)) else { return nil }
        // float_re, which may not follow a '.'
        if p == 0 || source[p - 1] != ".", let intEnd = digitRun(at: p) {
            var end: Int?
            if at(intEnd) == ".", let fracEnd = digitRun(at: intEnd + 1) {
                end = exponent(at: fracEnd) ?? fracEnd
            } else if let expEnd = exponent(at: intEnd) {
                end = expEnd
            }
            if let end {
                let text = PyText.string(source[p..<end]).replacingUnderscores()
                guard let value = Double(text) else {
                    throw TemplateError.syntax("invalid float literal \(text)", line: line(at: p))
                }
                var token = Token(.float, text, line: line(at: p))
                token.floatValue = value
                position = end
                return token
            }
        }
        // integer_re
        var end = p + 1
        var radix = 10
        var digitsStart = p
        if source[p] == "0", let marker = at(p + 1), let r = ["b": 2, "B": 2, "o": 8, "O": 8, "x": 16, "X": 16][marker]
        {
            var i = p + 2
            var count = 0
            while true {
                var j = i
                if at(j) == "_" { j += 1 }
                guard let c = at(j), c.isASCII, Int(String(c), radix: r) != nil else { break }
                i = j + 1
                count += 1
            }
            if count > 0 {
                end = i
                radix = r
                digitsStart = p + 2
            }
        }
        if radix == 10 {
            if source[p] == "0" {
                end = p + 1
                while true {
                    var j = end
                    if at(j) == "_" { j += 1 }
                    guard at(j) == "0" else { break }
                    end = j + 1
                }
            } else {
                end = p + 1
                while true {
                    var j = end
                    if at(j) == "_" { j += 1 }
                    guard isDigit(at(j)) else { break }
                    end = j + 1
                }
            }
        }
        let digits = PyText.string(source[digitsStart..<end]).replacingUnderscores()
        guard let value = Int(digits, radix: radix) else {
            throw TemplateError.syntax(
                "integer literal \(PyText.string(source[p..<end])) does not fit in 64 bits", line: line(at: p))
        }
        var token = Token(.integer, PyText.string(source[p..<end]), line: line(at: p))
        token.intValue = value
        position = end
        return token
    }

    /// A quoted string at `p` (moves past it), or nil when it is not terminated (jinja2 then fails on the quote).
    mutating func lexString(at p: Int, quote: Unicode.Scalar) throws -> Token? {
        var i = p + 1
        while i < source.count {
            let c = source[i]
            if c == "\\" {
                i += 2
                continue
            }
            if c == quote {
                let raw = Array(source[(p + 1)..<i])
                let token = Token(.string, try Lexer.unescape(raw, line: line(at: p)), line: line(at: p))
                position = i + 1
                return token
            }
            i += 1
        }
        return nil
    }

    /// Python's `s.encode("ascii", "backslashreplace").decode("unicode-escape")`, which jinja2 applies to string
    /// literals.
    static func unescape(_ raw: [Unicode.Scalar], line: Int) throws -> String {
        guard raw.contains("\\") else { return PyText.string(raw) }
        // Step 1: backslashreplace every non-ASCII code point.
        var ascii: [Unicode.Scalar] = []
        ascii.reserveCapacity(raw.count)
        for c in raw {
            if c.isASCII {
                ascii.append(c)
            } else if c.value <= 0xFF {
                ascii.append(contentsOf: PyText.hexEscape(c.value, prefix: "x", width: 2).unicodeScalars)
            } else if c.value <= 0xFFFF {
                ascii.append(contentsOf: PyText.hexEscape(c.value, prefix: "u", width: 4).unicodeScalars)
            } else {
                ascii.append(contentsOf: PyText.hexEscape(c.value, prefix: "U", width: 8).unicodeScalars)
            }
        }
        // Step 2: decode the escapes.
        var out: [UInt32] = []
        var i = 0
        func hex(_ count: Int, _ kind: String) throws -> UInt32 {
            guard i + count <= ascii.count,
                let v = UInt32(PyText.string(ascii[i..<(i + count)]), radix: 16),
                ascii[i..<(i + count)].allSatisfy({ $0.properties.isASCIIHexDigit })
            else {
                throw TemplateError.syntax("truncated \\\(kind) escape", line: line)
            }
            i += count
            return v
        }
        while i < ascii.count {
            let c = ascii[i]
            i += 1
            guard c == "\\" else {
                out.append(c.value)
                continue
            }
            guard i < ascii.count else { throw TemplateError.syntax("\\ at end of string", line: line) }
            let e = ascii[i]
            i += 1
            switch e {
            case "\n": break
            case "\\": out.append(0x5C)
            case "'": out.append(0x27)
            case "\"": out.append(0x22)
            case "a": out.append(0x07)
            case "b": out.append(0x08)
            case "f": out.append(0x0C)
            case "n": out.append(0x0A)
            case "r": out.append(0x0D)
            case "t": out.append(0x09)
            case "v": out.append(0x0B)
            case "0"..."7":
                var v = e.value - 0x30
                var n = 1
                while n < 3, i < ascii.count, ascii[i] >= "0", ascii[i] <= "7" {
                    v = v * 8 + ascii[i].value - 0x30
                    i += 1
                    n += 1
                }
                out.append(v)
            case "x": out.append(try hex(2, "xXX"))
            case "u": out.append(try hex(4, "uXXXX"))
            case "U":
                let v = try hex(8, "UXXXXXXXX")
                guard v <= 0x10FFFF else { throw TemplateError.syntax("illegal Unicode character", line: line) }
                out.append(v)
            case "N":
                throw TemplateError.syntax("\\N{...} escapes are not supported", line: line)
            default:
                out.append(0x5C)
                out.append(e.value)
            }
        }
        // Pair UTF-16 surrogates (Swift strings cannot hold lone ones).
        var result = String.UnicodeScalarView()
        var k = 0
        while k < out.count {
            let v = out[k]
            if (0xD800...0xDBFF).contains(v), k + 1 < out.count, (0xDC00...0xDFFF).contains(out[k + 1]) {
                result.append(Unicode.Scalar(0x10000 + ((v - 0xD800) << 10) + (out[k + 1] - 0xDC00)) ?? "\u{FFFD}")
                k += 2
                continue
            }
            result.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            k += 1
        }
        return String(result)
    }
}
