#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-level JSON scanning shared by `JSONParser` and `JSONSkimmer`. Strings are located with `memchr`, so long
/// string values (SGLang's native stream repeats the whole text so far in every chunk) cost little to step over.
enum JSONScan {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")

    /// First index of `byte` in `bytes[from..<to]`, or nil.
    static func find(_ byte: UInt8, in bytes: [UInt8], from: Int, to: Int) -> Int? {
        guard from < to, from >= 0, to <= bytes.count else { return nil }
        return bytes.withUnsafeBufferPointer { buffer -> Int? in
            guard let base = buffer.baseAddress,
                let hit = memchr(base + from, Int32(byte), to - from)
            else { return nil }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// For the string whose opening quote is at `quoteAt`: the first content index, the index of the closing quote,
    /// and whether the content holds any escape.
    static func stringBounds(_ bytes: [UInt8], quoteAt: Int) throws -> (start: Int, end: Int, escaped: Bool) {
        let start = quoteAt + 1
        var searchFrom = start
        while true {
            guard let q = find(quote, in: bytes, from: searchFrom, to: bytes.count) else {
                throw BenchError("invalid JSON at byte \(quoteAt): unterminated string")
            }
            var slashes = 0
            var k = q - 1
            while k >= start, bytes[k] == backslash {
                slashes += 1
                k -= 1
            }
            if slashes % 2 == 0 {
                return (start, q, find(backslash, in: bytes, from: start, to: q) != nil)
            }
            searchFrom = q + 1
        }
    }

    /// The text of string content `bytes[start..<end]`, escapes decoded. Invalid UTF-8 becomes U+FFFD.
    static func decodeString(_ bytes: [UInt8], start: Int, end: Int, escaped: Bool) throws -> String {
        if !escaped { return String(decoding: bytes[start..<end], as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var i = start
        func hex4(_ at: Int) throws -> UInt32 {
            guard at + 4 <= end else { throw BenchError("invalid JSON at byte \(at): truncated \\u escape") }
            var v: UInt32 = 0
            for k in at..<(at + 4) {
                let c = bytes[k]
                let digit: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw BenchError("invalid JSON at byte \(k): bad hex digit in \\u escape")
                }
                v = v * 16 + digit
            }
            return v
        }
        func appendScalar(_ v: UInt32) {
            let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        }
        while i < end {
            let b = bytes[i]
            guard b == backslash else {
                out.append(b)
                i += 1
                continue
            }
            guard i + 1 < end else { throw BenchError("invalid JSON at byte \(i): dangling backslash") }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""): out.append(quote)
            case backslash: out.append(backslash)
            case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                let v = try hex4(i)
                i += 4
                if (0xD800..<0xDC00).contains(v), i + 6 <= end, bytes[i] == backslash, bytes[i + 1] == UInt8(ascii: "u") {
                    let low = try hex4(i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        i += 6
                        appendScalar(0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00))
                        continue
                    }
                }
                appendScalar(v)  // a lone surrogate has no scalar: U+FFFD, as a lenient decoder does
            default:
                throw BenchError("invalid JSON at byte \(i - 1): unknown escape")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The number starting at `at` and the index after it: `.int` when it has no fraction or exponent and fits.
    static func number(_ bytes: [UInt8], at: Int) throws -> (JSONValue, Int) {
        var i = at
        var isInteger = true
        func digits() -> Int {
            let s = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") { i += 1 }
            return i - s
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard digits() > 0 else { throw BenchError("invalid JSON at byte \(at): expected a value") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard digits() > 0 else { throw BenchError("invalid JSON at byte \(i): expected digits after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw BenchError("invalid JSON at byte \(i): expected exponent digits") }
        }
        let text = String(decoding: bytes[at..<i], as: UTF8.self)
        if isInteger, let value = Int(text) { return (.int(value), i) }
        guard let value = Double(text) else { throw BenchError("invalid JSON at byte \(at): bad number") }
        return (.double(value), i)
    }

    static func skipWhitespace(_ bytes: [UInt8], _ i: inout Int) {
        while i < bytes.count {
            let b = bytes[i]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            i += 1
        }
    }

    /// The index just after the value starting at `at` (whitespace already skipped), without building it.
    static func skipValue(_ bytes: [UInt8], at: Int, depth: Int = 0) throws -> Int {
        guard depth < 512 else { throw BenchError("invalid JSON at byte \(at): nesting too deep") }
        guard at < bytes.count else { throw BenchError("invalid JSON: unexpected end of input") }
        switch bytes[at] {
        case quote:
            return try stringBounds(bytes, quoteAt: at).end + 1
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = bytes[at] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = bytes[at] == UInt8(ascii: "{")
            var i = at + 1
            skipWhitespace(bytes, &i)
            if i < bytes.count, bytes[i] == close { return i + 1 }
            while true {
                skipWhitespace(bytes, &i)
                if isObject {
                    guard i < bytes.count, bytes[i] == quote else {
                        throw BenchError("invalid JSON at byte \(i): expected a key string")
                    }
                    i = try stringBounds(bytes, quoteAt: i).end + 1
                    skipWhitespace(bytes, &i)
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else {
                        throw BenchError("invalid JSON at byte \(i): expected ':'")
                    }
                    i += 1
                    skipWhitespace(bytes, &i)
                }
                i = try skipValue(bytes, at: i, depth: depth + 1)
                skipWhitespace(bytes, &i)
                guard i < bytes.count else { throw BenchError("invalid JSON: unterminated container") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == close { return i + 1 }
                throw BenchError("invalid JSON at byte \(i): expected ',' or a closing bracket")
            }
        case UInt8(ascii: "t"): return try literal(bytes, at: at, "true")
        case UInt8(ascii: "f"): return try literal(bytes, at: at, "false")
        case UInt8(ascii: "n"): return try literal(bytes, at: at, "null")
        case UInt8(ascii: "N"): return try literal(bytes, at: at, "NaN")
        case UInt8(ascii: "I"): return try literal(bytes, at: at, "Infinity")
        default:
            if bytes[at] == UInt8(ascii: "-"), at + 1 < bytes.count, bytes[at + 1] == UInt8(ascii: "I") {
                return try literal(bytes, at: at + 1, "Infinity")
            }
            return try number(bytes, at: at).1
        }
    }

    private static func literal(_ bytes: [UInt8], at: Int, _ word: String) throws -> Int {
        let w = Array(word.utf8)
        guard at + w.count <= bytes.count, Array(bytes[at..<(at + w.count)]) == w else {
            throw BenchError("invalid JSON at byte \(at): unknown literal")
        }
        return at + w.count
    }
}
