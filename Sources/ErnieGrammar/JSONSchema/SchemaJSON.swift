/// A parsed JSON document as the JSON Schema compiler reads it: object members keep their order (property order is
/// the order of the generated keys) and numbers keep their text (enum and const values are written as given).
public indirect enum SchemaJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text as written, and its value.
    case number(String, Double)
    case string(String)
    case array([SchemaJSON])
    case object([(key: String, value: SchemaJSON)])

    public static func == (a: SchemaJSON, b: SchemaJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(_, let x), .number(_, let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The last member named `key` of an object (as Python's `json` keeps the last duplicate).
    public subscript(key: String) -> SchemaJSON? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Parses JSON text (strict RFC 8259, nesting at most `maximumDepth`).
    public static func parse(_ text: String) throws(GrammarError) -> SchemaJSON {
        var parser = SchemaJSONParser(bytes: Array(text.utf8))
        return try parser.document()
    }

    public static let maximumDepth = 128

    /// The value as compact JSON text in the grammar's canonical form (`", "` between items, `": "` after keys,
    /// numbers as written, non-ASCII text as UTF-8).
    public var canonicalText: String {
        switch self {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let text, _): return text
        case .string(let text): return Self.quoted(text)
        case .array(let elements): return "[" + elements.map(\.canonicalText).joined(separator: ", ") + "]"
        case .object(let members):
            return "{" + members.map { Self.quoted($0.key) + ": " + $0.value.canonicalText }.joined(separator: ", ")
                + "}"
        }
    }

    /// `text` as a JSON string literal: `"` and `\` escaped, control characters as `\n`-style or `\u00XX` escapes.
    public static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}

private struct SchemaJSONParser {
    let bytes: [UInt8]
    var index = 0
    var depth = 0

    mutating func document() throws(GrammarError) -> SchemaJSON {
        skipSpace()
        let value = try parseValue()
        skipSpace()
        guard index == bytes.count else { throw error("unexpected content after the JSON value") }
        return value
    }

    private func error(_ message: String) -> GrammarError {
        .invalidSchema(path: "#", message: "not valid JSON: \(message) at byte \(index)")
    }

    private mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func parseValue() throws(GrammarError) -> SchemaJSON {
        guard index < bytes.count else { throw error("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            return try nested { (p: inout SchemaJSONParser) throws(GrammarError) in try p.parseObject() }
        case UInt8(ascii: "["):
            return try nested { (p: inout SchemaJSONParser) throws(GrammarError) in try p.parseArray() }
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try keyword("true", .bool(true))
        case UInt8(ascii: "f"): return try keyword("false", .bool(false))
        case UInt8(ascii: "n"): return try keyword("null", .null)
        default: return try parseNumber()
        }
    }

    private mutating func nested(
        _ body: (inout SchemaJSONParser) throws(GrammarError) -> SchemaJSON
    ) throws(GrammarError) -> SchemaJSON {
        depth += 1
        guard depth <= SchemaJSON.maximumDepth else { throw error("nesting deeper than \(SchemaJSON.maximumDepth)") }
        defer { depth -= 1 }
        return try body(&self)
    }

    private mutating func keyword(_ word: String, _ value: SchemaJSON) throws(GrammarError) -> SchemaJSON {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<(index + expected.count)]) == expected else {
            throw error("invalid literal")
        }
        index += expected.count
        return value
    }

    private mutating func parseObject() throws(GrammarError) -> SchemaJSON {
        index += 1
        var members: [(key: String, value: SchemaJSON)] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
            let key = try parseString()
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipSpace()
            members.append((key, try parseValue()))
            skipSpace()
            guard index < bytes.count else { throw error("unterminated object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            } else {
                throw error("expected ',' or '}'")
            }
        }
    }

    private mutating func parseArray() throws(GrammarError) -> SchemaJSON {
        index += 1
        var elements: [SchemaJSON] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipSpace()
            elements.append(try parseValue())
            skipSpace()
            guard index < bytes.count else { throw error("unterminated array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            } else {
                throw error("expected ',' or ']'")
            }
        }
    }

    private mutating func parseString() throws(GrammarError) -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var start = index
        func flushRaw(_ end: Int) throws(GrammarError) {
            guard start < end else { return }
            let raw = Array(bytes[start..<end])
            guard let text = String(validating: raw, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
            scalars.append(contentsOf: text.unicodeScalars)
        }
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                try flushRaw(index)
                index += 1
                return String(scalars)
            }
            if byte < 0x20 { throw error("control character in a string") }
            if byte == UInt8(ascii: "\\") {
                try flushRaw(index)
                switch JSONEscape.decode(bytes, backslash: index) {
                case .scalar(let scalar, let next):
                    scalars.append(scalar)
                    index = next
                case .needMore: throw error("unterminated escape")
                case .invalid(let reason): throw error(reason)
                }
                start = index
                continue
            }
            index += 1
        }
    }

    private mutating func parseNumber() throws(GrammarError) -> SchemaJSON {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits() -> Int {
            let from = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - from
        }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0, !(integerDigits > 1 && bytes[integerStart] == 0x30) else {
            throw error("invalid number")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw error("invalid number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard digits() > 0 else { throw error("invalid number") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text) else { throw error("invalid number") }
        return .number(text, value)
    }
}
