/// One JSON string escape (RFC 8259 §7) decoded from UTF-8 bytes: the eight one-character escapes and `\uXXXX`, a high
/// surrogate joined with the `\uXXXX` low surrogate that must follow it. Shared by the strict schema parser
/// (`SchemaJSON`) and the streaming tool-call parser of the server, which has to tell "the text ends inside the
/// escape" (wait for more) from "the escape is wrong".
public enum JSONEscape {
    public enum Outcome: Equatable, Sendable {
        /// The escape stands for `scalar`; the first byte after it is at `next`.
        case scalar(Unicode.Scalar, next: Int)
        /// The bytes end before the escape does.
        case needMore
        /// Not a valid escape; `reason` says why.
        case invalid(String)
    }

    /// Decodes the escape whose backslash is `bytes[backslash]`.
    public static func decode(_ bytes: [UInt8], backslash: Int) -> Outcome {
        var index = backslash + 1
        guard index < bytes.count else { return .needMore }
        let escape = bytes[index]
        index += 1
        switch escape {
        case UInt8(ascii: "\""): return .scalar("\"", next: index)
        case UInt8(ascii: "\\"): return .scalar("\\", next: index)
        case UInt8(ascii: "/"): return .scalar("/", next: index)
        case UInt8(ascii: "b"): return .scalar("\u{08}", next: index)
        case UInt8(ascii: "f"): return .scalar("\u{0C}", next: index)
        case UInt8(ascii: "n"): return .scalar("\n", next: index)
        case UInt8(ascii: "r"): return .scalar("\r", next: index)
        case UInt8(ascii: "t"): return .scalar("\t", next: index)
        case UInt8(ascii: "u"): break
        default: return .invalid("invalid escape")
        }
        guard let high = hex4(bytes, at: index) else { return .invalid("invalid \\u escape") }
        guard let highValue = high else { return .needMore }
        index += 4
        var value = highValue
        if (0xD800...0xDBFF).contains(value) {
            // The low surrogate's `\u` must follow; a byte that cannot start it decides before the text is complete.
            for (offset, expected) in [UInt8(ascii: "\\"), UInt8(ascii: "u")].enumerated() {
                guard index + offset < bytes.count else { return .needMore }
                guard bytes[index + offset] == expected else { return .invalid("lone surrogate escape") }
            }
            guard let low = hex4(bytes, at: index + 2) else { return .invalid("invalid \\u escape") }
            guard let lowValue = low else { return .needMore }
            guard (0xDC00...0xDFFF).contains(lowValue) else { return .invalid("lone surrogate escape") }
            index += 6
            value = 0x10000 + ((value - 0xD800) << 10) + (lowValue - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(value) else { return .invalid("lone surrogate escape") }
        return .scalar(scalar, next: index)
    }

    /// Four hex digits at `index`: nil when one is not a hex digit, `.some(nil)` when the bytes end first.
    private static func hex4(_ bytes: [UInt8], at index: Int) -> UInt32?? {
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard index + offset < bytes.count else { return .some(nil) }
            let byte = bytes[index + offset]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value * 16 + digit
        }
        return .some(value)
    }
}
