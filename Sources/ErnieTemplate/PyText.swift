/// Python `str` semantics over Unicode scalars (Python strings are sequences of code points, not graphemes).
enum PyText {
    /// `str.isspace()` for one code point (also what `\s` and `str.split()` use).
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            true
        default:
            false
        }
    }

    /// Line boundaries recognised by `str.splitlines()`.
    static func isLineBreak(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029: true
        default: false
        }
    }

    /// `str.isprintable()` for one code point.
    static func isPrintable(_ c: Unicode.Scalar) -> Bool {
        if c == " " { return true }
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default:
            return true
        }
    }

    static func isAlpha(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    static func isDecimal(_ c: Unicode.Scalar) -> Bool { c.properties.numericType == .decimal }

    static func isDigit(_ c: Unicode.Scalar) -> Bool {
        c.properties.numericType == .decimal || c.properties.numericType == .digit
    }

    static func isNumeric(_ c: Unicode.Scalar) -> Bool { c.properties.numericType != nil }

    static func isAlnum(_ c: Unicode.Scalar) -> Bool { isAlpha(c) || isNumeric(c) }

    /// `\w` in Python's `re` for str patterns.
    static func isWordChar(_ c: Unicode.Scalar) -> Bool { c == "_" || isAlnum(c) }

    static func scalars(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }

    static func string<S: Sequence>(_ scalars: S) -> String where S.Element == Unicode.Scalar {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    static func length(_ s: String) -> Int { s.unicodeScalars.count }

    // MARK: case mapping

    static func lower(_ s: String) -> String {
        let chars = scalars(s)
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for (i, c) in chars.enumerated() {
            if c.value == 0x3A3 {
                out.unicodeScalars.append(finalSigma(chars, at: i) ? "\u{3C2}" : "\u{3C3}")
            } else {
                out += c.properties.lowercaseMapping
            }
        }
        return out
    }

    static func upper(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars { out += c.properties.uppercaseMapping }
        return out
    }

    /// `str.title()`.
    static func title(_ s: String) -> String {
        let chars = scalars(s)
        var out = ""
        var previousCased = false
        for (i, c) in chars.enumerated() {
            if previousCased {
                if c.value == 0x3A3 {
                    out.unicodeScalars.append(finalSigma(chars, at: i) ? "\u{3C2}" : "\u{3C3}")
                } else {
                    out += c.properties.lowercaseMapping
                }
            } else {
                out += c.properties.titlecaseMapping
            }
            previousCased = c.properties.isCased
        }
        return out
    }

    /// `str.capitalize()` (Python 3.8+: first character title-cased, the rest lower-cased).
    static func capitalize(_ s: String) -> String {
        let chars = scalars(s)
        guard let first = chars.first else { return "" }
        var out = first.properties.titlecaseMapping
        for i in 1..<chars.count {
            let c = chars[i]
            if c.value == 0x3A3 {
                out.unicodeScalars.append(finalSigma(chars, at: i) ? "\u{3C2}" : "\u{3C3}")
            } else {
                out += c.properties.lowercaseMapping
            }
        }
        return out
    }

    static func swapcase(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if c.properties.isUppercase {
                out += c.properties.lowercaseMapping
            } else if c.properties.isLowercase {
                out += c.properties.uppercaseMapping
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Python's final-sigma rule for lower-casing U+03A3.
    private static func finalSigma(_ chars: [Unicode.Scalar], at i: Int) -> Bool {
        var j = i - 1
        while j >= 0, chars[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, chars[j].properties.isCased else { return false }
        var k = i + 1
        while k < chars.count, chars[k].properties.isCaseIgnorable { k += 1 }
        return !(k < chars.count && chars[k].properties.isCased)
    }

    static func isLower(_ s: String) -> Bool {
        var cased = false
        for c in s.unicodeScalars {
            if c.properties.isUppercase || c.properties.generalCategory == .titlecaseLetter { return false }
            if c.properties.isLowercase { cased = true }
        }
        return cased
    }

    static func isUpper(_ s: String) -> Bool {
        var cased = false
        for c in s.unicodeScalars {
            if c.properties.isLowercase || c.properties.generalCategory == .titlecaseLetter { return false }
            if c.properties.isUppercase { cased = true }
        }
        return cased
    }

    // MARK: repr

    /// Python `repr()` of a string.
    static func repr(_ s: String) -> String {
        let hasSingle = s.unicodeScalars.contains("'")
        let hasDouble = s.unicodeScalars.contains("\"")
        let quote: Unicode.Scalar = hasSingle && !hasDouble ? "\"" : "'"
        var out = String.UnicodeScalarView()
        out.append(quote)
        for c in s.unicodeScalars {
            switch c {
            case quote, "\\":
                out.append("\\")
                out.append(c)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            default:
                if c.value < 0x20 || c.value == 0x7F {
                    out.append(contentsOf: hexEscape(c.value, prefix: "x", width: 2).unicodeScalars)
                } else if c.value < 0x7F || isPrintable(c) {
                    out.append(c)
                } else if c.value <= 0xFF {
                    out.append(contentsOf: hexEscape(c.value, prefix: "x", width: 2).unicodeScalars)
                } else if c.value <= 0xFFFF {
                    out.append(contentsOf: hexEscape(c.value, prefix: "u", width: 4).unicodeScalars)
                } else {
                    out.append(contentsOf: hexEscape(c.value, prefix: "U", width: 8).unicodeScalars)
                }
            }
        }
        out.append(quote)
        return String(out)
    }

    static func hexEscape(_ value: UInt32, prefix: String, width: Int) -> String {
        let hex = String(value, radix: 16)
        return "\\" + prefix + String(repeating: "0", count: max(0, width - hex.count)) + hex
    }

    /// HTML escaping as `markupsafe.escape` does it.
    static func htmlEscape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
