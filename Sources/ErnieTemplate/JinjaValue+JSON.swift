/// JSON bridging: a strict RFC 8259 parser that keeps object key order, and Python `json.dumps` formatting.
extension JinjaValue {
    /// Parses JSON text. Object members keep their order (duplicates are kept; templates see the last value at the
    /// first position, as Python's `json.loads` does). Integers that fit in `Int` become `.int`, other numbers
    /// `.double`. Throws a ``TemplateError`` of kind `.json` naming the line and column of the first error.
    public init(json text: String, maxDepth: Int = 512) throws {
        var parser = JSONParser(bytes: Array(text.utf8), maxDepth: maxDepth)
        self = try parser.parseDocument(allowByteOrderMark: false)
    }

    /// Parses JSON bytes (UTF-8, optionally with a byte order mark); see ``init(json:maxDepth:)``.
    public init<Bytes: Collection>(jsonBytes bytes: Bytes, maxDepth: Int = 512) throws where Bytes.Element == UInt8 {
        var parser = JSONParser(bytes: Array(bytes), maxDepth: maxDepth)
        self = try parser.parseDocument(allowByteOrderMark: true)
    }

    /// Serialises the value as Python's `json.dumps(value, ensure_ascii=ensureASCII, indent=indent,
    /// sort_keys=sortKeys)` does (`", "` / `": "` separators on one line, floats as Python `repr`). Throws for
    /// `.undefined` anywhere in the value.
    public func jsonString(indent: Int? = nil, sortKeys: Bool = false, ensureASCII: Bool = false) throws -> String {
        let encoder = PyJSON(
            ensureASCII: ensureASCII, indent: indent.map { String(repeating: " ", count: max(0, $0)) },
            sortKeys: sortKeys)
        let value = self
        return try BigStack.run { _ in try encoder.dumps(try ErnieTemplate.Value(value, maxDepth: encoder.maxDepth)) }
    }
}

/// An iterative JSON parser (deep nesting cannot overflow the stack; `maxDepth` bounds it anyway).
struct JSONParser {
    private let bytes: [UInt8]
    private let maxDepth: Int
    private var position = 0

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private enum Container {
        case array([JinjaValue])
        case object([(String, JinjaValue)], key: String)
    }

    mutating func parseDocument(allowByteOrderMark: Bool) throws -> JinjaValue {
        if allowByteOrderMark && bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
        var stack: [Container] = []
        var value: JinjaValue
        parsing: while true {
            skipWhitespace()
            // Parse one value, or open a container.
            guard let byte = peek() else { throw error("unexpected end of input, expected a value") }
            switch byte {
            case UInt8(ascii: "{"):
                position += 1
                guard stack.count < maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
                skipWhitespace()
                if peek() == UInt8(ascii: "}") {
                    position += 1
                    value = .object([])
                } else {
                    stack.append(.object([], key: try parseKey()))
                    continue parsing
                }
            case UInt8(ascii: "["):
                position += 1
                guard stack.count < maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
                skipWhitespace()
                if peek() == UInt8(ascii: "]") {
                    position += 1
                    value = .array([])
                } else {
                    stack.append(.array([]))
                    continue parsing
                }
            case UInt8(ascii: "\""):
                value = .string(try parseString())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                value = .none
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = try parseNumber()
            default:
                throw error("unexpected character \(describe(byte)), expected a value")
            }
            // Attach the finished value to the enclosing containers, closing them as they end.
            while true {
                guard let top = stack.popLast() else {
                    skipWhitespace()
                    guard position == bytes.count else { throw error("unexpected data after the JSON value") }
                    return value
                }
                skipWhitespace()
                switch top {
                case .array(var items):
                    items.append(value)
                    if peek() == UInt8(ascii: ",") {
                        position += 1
                        stack.append(.array(items))
                        continue parsing
                    }
                    guard peek() == UInt8(ascii: "]") else { throw error("expected ',' or ']' in array") }
                    position += 1
                    value = .array(items)
                case .object(var members, let key):
                    members.append((key, value))
                    if peek() == UInt8(ascii: ",") {
                        position += 1
                        skipWhitespace()
                        stack.append(.object(members, key: try parseKey()))
                        continue parsing
                    }
                    guard peek() == UInt8(ascii: "}") else { throw error("expected ',' or '}' in object") }
                    position += 1
                    value = .object(members)
                }
            }
        }
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func parseKey() throws -> String {
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a string key in object") }
        let key = try parseString()
        skipWhitespace()
        guard peek() == UInt8(ascii: ":") else { throw error("expected ':' after object key") }
        position += 1
        return key
    }

    private mutating func expectLiteral(_ word: String) throws {
        let w = Array(word.utf8)
        guard position + w.count <= bytes.count, Array(bytes[position..<(position + w.count)]) == w else {
            throw error("invalid literal, expected '\(word)'")
        }
        position += w.count
    }

    private mutating func parseNumber() throws -> JinjaValue {
        let start = position
        func digit() -> Bool { peek().map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        if peek() == UInt8(ascii: "-") { position += 1 }
        guard digit() else { throw error("invalid number") }
        if peek() == UInt8(ascii: "0") {
            position += 1
            if digit() { throw error("invalid number: leading zero") }
        } else {
            while digit() { position += 1 }
        }
        var isInteger = true
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard digit() else { throw error("invalid number: expected digits after '.'") }
            while digit() { position += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            guard digit() else { throw error("invalid number: expected exponent digits") }
            while digit() { position += 1 }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if isInteger, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { throw error("invalid number") }
        return .double(d)
    }

    private mutating func parseString() throws -> String {
        position += 1
        var buffer: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated string") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: buffer, as: UTF8.self) else {
                    throw error("invalid UTF-8 in string")
                }
                return text
            case UInt8(ascii: "\\"):
                guard let escape = peek() else { throw error("unterminated string") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""): buffer.append(0x22)
                case UInt8(ascii: "\\"): buffer.append(0x5C)
                case UInt8(ascii: "/"): buffer.append(0x2F)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800...0xDBFF).contains(code), peek() == UInt8(ascii: "\\"),
                        position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u")
                    {
                        let save = position
                        position += 2
                        let low = try parseHex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            position = save
                        }
                    }
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    buffer.append(contentsOf: String(scalar).utf8)
                default:
                    throw error("invalid escape '\\\(describe(escape))' in string")
                }
            case 0x00..<0x20:
                throw error("unescaped control character in string")
            default:
                buffer.append(byte)
            }
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard position + 4 <= bytes.count,
            bytes[position..<(position + 4)].allSatisfy({ Character(Unicode.Scalar($0)).isHexDigit }),
            let v = UInt32(String(decoding: bytes[position..<(position + 4)], as: UTF8.self), radix: 16)
        else { throw error("invalid \\u escape") }
        position += 4
        return v
    }

    private func describe(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "0x" + String(byte, radix: 16)
    }

    private func error(_ message: String) -> TemplateError {
        var line = 1
        var column = 1
        for byte in bytes[..<min(position, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return TemplateError(
            message: "invalid JSON at line \(line), column \(column): \(message)", line: line, kind: .json)
    }
}
