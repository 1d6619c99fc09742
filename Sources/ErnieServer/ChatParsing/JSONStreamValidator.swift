/// Checks JSON text one byte at a time (RFC 8259 syntax; strings are taken as they come, their UTF-8 is the
/// decoder's). Used to stream a tool call's arguments while making sure they are one well-formed JSON object.
struct JSONStreamValidator {
    enum Step: Equatable {
        /// The byte is part of the value; more is needed.
        case accepted
        /// The byte completed the value (the closing brace of the top-level object).
        case complete
        /// The byte cannot continue the value.
        case invalid
    }

    private enum Frame {
        case objectKeyOrEnd, objectKey, objectColon, objectValue, objectCommaOrEnd
        case arrayValueOrEnd, arrayValue, arrayCommaOrEnd
    }

    private enum Token {
        case none
        case string(escape: Int)  // 0: plain, 1: after '\', 2...5: hex digits still expected (5 - n)
        case number(NumberState)
        case literal([UInt8], Int)
    }

    private enum NumberState { case sign, zero, integer, dot, fraction, exponent, exponentSign, exponentDigits }

    static let maximumDepth = 128

    private var stack: [Frame] = []
    private var token = Token.none
    private var started = false
    /// Whether the string being read is an object key.
    private var readingKey = false
    private(set) var isComplete = false

    /// Feeds one byte. The top-level value must be an object.
    mutating func feed(_ byte: UInt8) -> Step {
        guard !isComplete else { return .invalid }
        switch token {
        case .string(let escape):
            return string(byte, escape: escape)
        case .number(let state):
            if let next = Self.number(state, byte) {
                token = .number(next)
                return .accepted
            }
            guard Self.numberCanEnd(state) else { return .invalid }
            token = .none
            valueEnded()
            return structural(byte)
        case .literal(let word, let index):
            guard byte == word[index] else { return .invalid }
            if index + 1 == word.count {
                token = .none
                valueEnded()
            } else {
                token = .literal(word, index + 1)
            }
            return .accepted
        case .none:
            return structural(byte)
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }

    private mutating func structural(_ byte: UInt8) -> Step {
        if Self.isSpace(byte) { return started ? (isComplete ? .invalid : .accepted) : .accepted }
        guard started else {
            guard byte == UInt8(ascii: "{") else { return .invalid }
            started = true
            stack.append(.objectKeyOrEnd)
            return .accepted
        }
        guard let frame = stack.last else { return .invalid }
        switch frame {
        case .objectKeyOrEnd, .objectKey:
            if byte == UInt8(ascii: "}") && frame == .objectKeyOrEnd { return close() }
            guard byte == UInt8(ascii: "\"") else { return .invalid }
            readingKey = true
            token = .string(escape: 0)
            return .accepted
        case .objectColon:
            guard byte == UInt8(ascii: ":") else { return .invalid }
            stack[stack.count - 1] = .objectValue
            return .accepted
        case .objectCommaOrEnd:
            if byte == UInt8(ascii: "}") { return close() }
            guard byte == UInt8(ascii: ",") else { return .invalid }
            stack[stack.count - 1] = .objectKey
            return .accepted
        case .arrayCommaOrEnd:
            if byte == UInt8(ascii: "]") { return close() }
            guard byte == UInt8(ascii: ",") else { return .invalid }
            stack[stack.count - 1] = .arrayValue
            return .accepted
        case .arrayValueOrEnd, .arrayValue:
            if byte == UInt8(ascii: "]") && frame == .arrayValueOrEnd { return close() }
            return beginValue(byte)
        case .objectValue:
            return beginValue(byte)
        }
    }

    private mutating func beginValue(_ byte: UInt8) -> Step {
        switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard stack.count < Self.maximumDepth else { return .invalid }
            stack.append(byte == UInt8(ascii: "{") ? .objectKeyOrEnd : .arrayValueOrEnd)
        case UInt8(ascii: "\""):
            readingKey = false
            token = .string(escape: 0)
        case UInt8(ascii: "-"): token = .number(.sign)
        case UInt8(ascii: "0"): token = .number(.zero)
        case UInt8(ascii: "1")...UInt8(ascii: "9"): token = .number(.integer)
        case UInt8(ascii: "t"): token = .literal(Array("true".utf8), 1)
        case UInt8(ascii: "f"): token = .literal(Array("false".utf8), 1)
        case UInt8(ascii: "n"): token = .literal(Array("null".utf8), 1)
        default: return .invalid
        }
        return .accepted
    }

    /// A value inside the current container ended: expect a separator next.
    private mutating func valueEnded() {
        guard let frame = stack.last else { return }
        switch frame {
        case .objectValue: stack[stack.count - 1] = .objectCommaOrEnd
        case .arrayValue, .arrayValueOrEnd: stack[stack.count - 1] = .arrayCommaOrEnd
        default: break
        }
    }

    private mutating func close() -> Step {
        stack.removeLast()
        if stack.isEmpty {
            isComplete = true
            return .complete
        }
        valueEnded()
        return .accepted
    }

    private mutating func string(_ byte: UInt8, escape: Int) -> Step {
        switch escape {
        case 0:
            if byte == UInt8(ascii: "\"") {
                token = .none
                if readingKey {
                    readingKey = false
                    stack[stack.count - 1] = .objectColon
                } else {
                    valueEnded()
                }
            } else if byte == UInt8(ascii: "\\") {
                token = .string(escape: 1)
            } else if byte < 0x20 {
                return .invalid
            }
        case 1:
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                token = .string(escape: 0)
            case UInt8(ascii: "u"):
                token = .string(escape: 2)
            default:
                return .invalid
            }
        default:
            let hex = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
            guard hex else { return .invalid }
            token = .string(escape: escape == 5 ? 0 : escape + 1)
        }
        return .accepted
    }

    private static func number(_ state: NumberState, _ byte: UInt8) -> NumberState? {
        let digit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
        switch state {
        case .sign: return byte == UInt8(ascii: "0") ? .zero : digit ? .integer : nil
        case .zero: return byte == UInt8(ascii: ".") ? .dot : (byte | 0x20) == UInt8(ascii: "e") ? .exponent : nil
        case .integer:
            if digit { return .integer }
            return byte == UInt8(ascii: ".") ? .dot : (byte | 0x20) == UInt8(ascii: "e") ? .exponent : nil
        case .dot: return digit ? .fraction : nil
        case .fraction:
            if digit { return .fraction }
            return (byte | 0x20) == UInt8(ascii: "e") ? .exponent : nil
        case .exponent:
            if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") { return .exponentSign }
            return digit ? .exponentDigits : nil
        case .exponentSign, .exponentDigits: return digit ? .exponentDigits : nil
        }
    }

    private static func numberCanEnd(_ state: NumberState) -> Bool {
        state == .zero || state == .integer || state == .fraction || state == .exponentDigits
    }
}
