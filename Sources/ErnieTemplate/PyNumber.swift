#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#elseif canImport(Musl)
    import Musl
#endif

/// Python number formatting.
enum PyNumber {
    /// `repr(float)` / `str(float)`: the shortest round-tripping digits, in fixed notation when the decimal exponent
    /// is in (-4, 16], else scientific with a signed, at least two-digit exponent.
    static func repr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        let (digits, decimalPoint) = shortestDigits(abs(d))
        let sign = d < 0 ? "-" : ""
        let n = digits.count
        if decimalPoint > -4 && decimalPoint <= 16 {
            if decimalPoint <= 0 {
                return sign + "0." + String(repeating: "0", count: -decimalPoint) + digits
            }
            if decimalPoint >= n {
                return sign + digits + String(repeating: "0", count: decimalPoint - n) + ".0"
            }
            let cut = digits.index(digits.startIndex, offsetBy: decimalPoint)
            return sign + digits[..<cut] + "." + digits[cut...]
        }
        let exponent = decimalPoint - 1
        var mantissa = String(digits.prefix(1))
        if n > 1 { mantissa += "." + digits.dropFirst() }
        let expDigits = String(abs(exponent))
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (expDigits.count < 2 ? "0" : "") + expDigits
    }

    /// Shortest round-trip digits (no leading/trailing zeros) and the decimal point position relative to them, taken
    /// from Swift's own shortest representation.
    static func shortestDigits(_ d: Double) -> (String, Int) {
        let text = d.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var digits = ""
        var pointIndex: Int?
        for ch in mantissa {
            if ch == "." {
                pointIndex = digits.count
            } else {
                digits.append(ch)
            }
        }
        var point = (pointIndex ?? digits.count) + exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            point -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        return (digits, point)
    }

    /// C `printf` formatting of one double (`spec` like `"%.2f"`), as Python's `%` and `format` produce it.
    static func printf(_ spec: String, _ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        let written = withVaList([value]) { args in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, 512, spec, args) }
        }
        if written >= 512 {
            buffer = [CChar](repeating: 0, count: Int(written) + 1)
            _ = withVaList([value]) { args in
                buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, Int(written) + 1, spec, args) }
            }
        }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Python's `round(x, ndigits)` for floats (correctly rounded, ties to even on the exact binary value).
    static func round(_ x: Double, digits: Int) -> Double {
        if !x.isFinite { return x }
        if digits == 0 { return x.rounded(.toNearestOrEven) }
        if digits > 22 { return x }
        if digits < -22 { return 0 * x }
        if digits < 0 {
            let scale = pow(10.0, Double(-digits))
            return (x / scale).rounded(.toNearestOrEven) * scale
        }
        return Double(printf("%.\(digits)f", x)) ?? x
    }

    /// Parses Python `float()` input: optional whitespace, sign, digits with `_`, `inf`, `nan`.
    static func parseFloat(_ text: String) -> Double? {
        let trimmed = PyText.strip(text, chars: nil)
        let lower = trimmed.lowercased()
        let unsigned = lower.hasPrefix("-") || lower.hasPrefix("+") ? String(lower.dropFirst()) : lower
        let negative = lower.hasPrefix("-")
        if unsigned == "inf" || unsigned == "infinity" { return negative ? -.infinity : .infinity }
        if unsigned == "nan" { return .nan }
        guard !unsigned.isEmpty, unsigned.allSatisfy({ $0.isASCII && ($0.isNumber || "._e+-".contains($0)) }) else {
            return nil
        }
        if unsigned.contains("__") || unsigned.hasPrefix("_") || unsigned.hasSuffix("_") { return nil }
        return Double(trimmed.replacingUnderscores())
    }

    /// Parses Python `int(text, base)` input.
    static func parseInt(_ text: String, base: Int = 10) -> Int? {
        var s = PyText.strip(text, chars: nil)
        var negative = false
        if s.hasPrefix("-") || s.hasPrefix("+") {
            negative = s.hasPrefix("-")
            s.removeFirst()
        }
        var radix = base
        let lower = s.lowercased()
        if base == 0 || base == 16 || base == 8 || base == 2 {
            for (prefix, r) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(prefix) {
                if base == 0 || base == r {
                    radix = r
                    s = String(s.dropFirst(2))
                    if s.hasPrefix("_") { s.removeFirst() }
                }
            }
            if radix == 0 { radix = 10 }
        }
        guard !s.isEmpty, !s.hasPrefix("_"), !s.hasSuffix("_"), !s.contains("__"), !s.hasPrefix("+"), !s.hasPrefix("-"),
            (2...36).contains(radix)
        else {
            return nil
        }
        guard let magnitude = Int(s.replacingUnderscores(), radix: radix) else { return nil }
        return negative ? -magnitude : magnitude
    }
}

extension String {
    func replacingUnderscores() -> String { String(unicodeScalars.filter { $0 != "_" }.map(Character.init)) }
}
