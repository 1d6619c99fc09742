import ErnieGrammar

/// The fixed parts around a tool call's arguments: `{"name": "<name>", "arguments": ` before them and
/// `}\n</tool_call>` after (any JSON whitespace between the pieces), read incrementally.
enum ToolCallHeader {
    enum Scan: Equatable {
        /// Everything so far fits; more bytes are needed.
        case needMore
        /// The bytes cannot be this part.
        case mismatch
        /// The part is complete: `length` bytes, and the decoded name (empty for the trailer).
        case matched(name: String, length: Int)
    }

    /// Reads the header up to the first byte of the arguments.
    static func scan(_ bytes: [UInt8]) -> Scan {
        var reader = Reader(bytes: bytes)
        do {
            try reader.expect("{")
            try reader.expect("\"name\"")
            try reader.expect(":")
            let name = try reader.string()
            try reader.expect(",")
            try reader.expect("\"arguments\"")
            try reader.expect(":")
            try reader.skipSpace()
            return .matched(name: name, length: reader.index)
        } catch {
            return error == .needMore ? .needMore : .mismatch
        }
    }

    /// Reads the closing `}` and `</tool_call>` after the arguments.
    static func scanTrailer(_ bytes: [UInt8]) -> Scan {
        var reader = Reader(bytes: bytes)
        do {
            try reader.expect("}")
            try reader.expect("</tool_call>")
            return .matched(name: "", length: reader.index)
        } catch {
            return error == .needMore ? .needMore : .mismatch
        }
    }

    private enum Failure: Error, Equatable {
        case needMore, mismatch
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        mutating func skipSpace() throws(Failure) {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
            if index == bytes.count { throw .needMore }
        }

        /// Whitespace, then exactly `literal`.
        mutating func expect(_ literal: String) throws(Failure) {
            try skipSpace()
            for byte in literal.utf8 {
                guard index < bytes.count else { throw .needMore }
                guard bytes[index] == byte else { throw .mismatch }
                index += 1
            }
        }

        /// Whitespace, then a JSON string; returns its value.
        mutating func string() throws(Failure) -> String {
            try skipSpace()
            guard bytes[index] == UInt8(ascii: "\"") else { throw .mismatch }
            index += 1
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() throws(Failure) {
                guard !raw.isEmpty else { return }
                guard let text = String(validating: raw, as: UTF8.self) else { throw .mismatch }
                scalars.append(contentsOf: text.unicodeScalars)
                raw = []
            }
            while true {
                guard index < bytes.count else { throw .needMore }
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    try flush()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    try flush()
                    switch JSONEscape.decode(bytes, backslash: index - 1) {
                    case .scalar(let scalar, let next):
                        scalars.append(scalar)
                        index = next
                    case .needMore: throw .needMore
                    case .invalid: throw .mismatch
                    }
                default:
                    guard byte >= 0x20 else { throw .mismatch }
                    raw.append(byte)
                }
            }
        }
    }
}

/// UTF-8 helpers for text split at arbitrary bytes.
enum UTF8Text {
    /// Length of the longest prefix that does not end inside a (possibly valid) multi-byte character.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        var start = bytes.count
        var back = 0
        while start > 0 && back < 4 {
            start -= 1
            back += 1
            let byte = bytes[start]
            if byte & 0xC0 != 0x80 {
                let width = byte < 0x80 ? 1 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
                return width > back ? start : bytes.count
            }
        }
        return bytes.count
    }

    /// The bytes as text (invalid sequences become U+FFFD).
    static func string(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
