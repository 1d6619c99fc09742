/// UTF-8 decoding rules of the two reference libraries, byte for byte.
enum UTF8Decoding {
    /// U+FFFD REPLACEMENT CHARACTER.
    static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    @inline(__always)
    static func isTrail(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }

    @inline(__always)
    static func isValidScalar(_ value: UInt32) -> Bool { value < 0xD800 || (value >= 0xE000 && value <= 0x10FFFF) }

    /// SentencePiece's `OneCharLen`: the character length implied by the lead byte's high nibble.
    @inline(__always)
    static func sentencePieceCharLength(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0...11: return 1
        case 12, 13: return 2
        case 14: return 3
        default: return 4
        }
    }

    /// SentencePiece's `IsValidDecodeUTF8` at `bytes[start..<end]`: whether one valid character starts there and how
    /// many bytes it (or, when invalid, the one replaced byte) takes.
    static func sentencePieceDecode(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int)
        -> (valid: Bool, length: Int)
    {
        let available = end - start
        let b0 = bytes[start]
        if b0 < 0x80 { return (true, 1) }
        if available >= 2 && b0 & 0xE0 == 0xC0 {
            let b1 = bytes[start + 1]
            let scalar = UInt32(b0 & 0x1F) << 6 | UInt32(b1 & 0x3F)
            if isTrail(b1) && scalar >= 0x80 && isValidScalar(scalar) { return (true, 2) }
        } else if available >= 3 && b0 & 0xF0 == 0xE0 {
            let b1 = bytes[start + 1]
            let b2 = bytes[start + 2]
            let scalar = UInt32(b0 & 0x0F) << 12 | UInt32(b1 & 0x3F) << 6 | UInt32(b2 & 0x3F)
            if isTrail(b1) && isTrail(b2) && scalar >= 0x800 && isValidScalar(scalar) { return (true, 3) }
        } else if available >= 4 && b0 & 0xF8 == 0xF0 {
            let b1 = bytes[start + 1]
            let b2 = bytes[start + 2]
            let b3 = bytes[start + 3]
            let scalar = UInt32(b0 & 0x07) << 18 | UInt32(b1 & 0x3F) << 12 | UInt32(b2 & 0x3F) << 6 | UInt32(b3 & 0x3F)
            if isTrail(b1) && isTrail(b2) && isTrail(b3) && scalar >= 0x10000 && isValidScalar(scalar) {
                return (true, 4)
            }
        }
        return (false, 1)
    }

    /// Whether `bytes[start..<end]`, shorter than the character its lead byte announces, can still become a valid
    /// character for `sentencePieceDecode` once more bytes arrive.
    static func sentencePieceCanComplete(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        let b0 = bytes[start]
        let needed: Int
        let minimum: UInt32
        var prefix: UInt32
        switch b0 {
        case 0xC0...0xDF: (needed, minimum, prefix) = (2, 0x80, UInt32(b0 & 0x1F))
        case 0xE0...0xEF: (needed, minimum, prefix) = (3, 0x800, UInt32(b0 & 0x0F))
        case 0xF0...0xF7: (needed, minimum, prefix) = (4, 0x10000, UInt32(b0 & 0x07))
        default: return false
        }
        let available = end - start
        if available >= needed { return false }
        for index in (start + 1)..<end {
            if !isTrail(bytes[index]) { return false }
            prefix = prefix << 6 | UInt32(bytes[index] & 0x3F)
        }
        let missingBits = UInt32(6 * (needed - available))
        let low = max(prefix << missingBits, minimum)
        let high = prefix << missingBits | ((1 << missingBits) - 1)
        if low > high { return false }
        return low <= 0xD7FF || (high >= 0xE000 && low <= 0x10FFFF)
    }

    /// One step of lossy decoding with U+FFFD substitution of maximal subparts (Rust's `String::from_utf8_lossy`).
    enum LossyStep {
        /// A valid character of this many bytes.
        case valid(Int)
        /// One U+FFFD replaces this many bytes.
        case invalid(Int)
        /// A valid prefix that needs more bytes.
        case incomplete
    }

    static func lossyStep(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> LossyStep {
        let b0 = bytes[start]
        if b0 < 0x80 { return .valid(1) }
        let needed: Int
        let secondRange: ClosedRange<UInt8>
        switch b0 {
        case 0xC2...0xDF: (needed, secondRange) = (2, 0x80...0xBF)
        case 0xE0: (needed, secondRange) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (needed, secondRange) = (3, 0x80...0xBF)
        case 0xED: (needed, secondRange) = (3, 0x80...0x9F)
        case 0xF0: (needed, secondRange) = (4, 0x90...0xBF)
        case 0xF1...0xF3: (needed, secondRange) = (4, 0x80...0xBF)
        case 0xF4: (needed, secondRange) = (4, 0x80...0x8F)
        default: return .invalid(1)
        }
        if start + 1 >= end { return .incomplete }
        if !secondRange.contains(bytes[start + 1]) { return .invalid(1) }
        for offset in 2..<needed {
            if start + offset >= end { return .incomplete }
            if !isTrail(bytes[start + offset]) { return .invalid(offset) }
        }
        return .valid(needed)
    }

    /// Lossy decoding of a whole byte string (maximal subparts replaced by U+FFFD).
    static func lossyString(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        bytes.withUnsafeBufferPointer { buffer in
            var index = 0
            while index < buffer.count {
                switch lossyStep(buffer, index, buffer.count) {
                case .valid(let length):
                    output.append(contentsOf: buffer[index..<(index + length)])
                    index += length
                case .invalid(let length):
                    output.append(contentsOf: replacement)
                    index += length
                case .incomplete:
                    output.append(contentsOf: replacement)
                    index = buffer.count
                }
            }
        }
        return output
    }

    /// Whether `bytes` is entirely valid UTF-8 (Rust's `String::from_utf8` succeeds).
    static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var index = 0
            while index < buffer.count {
                guard case .valid(let length) = lossyStep(buffer, index, buffer.count) else { return false }
                index += length
            }
            return true
        }
    }

    /// A `String` from bytes that are valid UTF-8 by construction.
    static func string(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}

extension Array where Element == UInt8 {
    /// Appends the UTF-8 encoding of `scalar`.
    @inline(__always)
    mutating func appendUTF8(_ scalar: Unicode.Scalar) {
        let value = scalar.value
        switch value {
        case 0..<0x80:
            append(UInt8(value))
        case 0x80..<0x800:
            append(UInt8(0xC0 | value >> 6))
            append(UInt8(0x80 | value & 0x3F))
        case 0x800..<0x10000:
            append(UInt8(0xE0 | value >> 12))
            append(UInt8(0x80 | (value >> 6) & 0x3F))
            append(UInt8(0x80 | value & 0x3F))
        default:
            append(UInt8(0xF0 | value >> 18))
            append(UInt8(0x80 | (value >> 12) & 0x3F))
            append(UInt8(0x80 | (value >> 6) & 0x3F))
            append(UInt8(0x80 | value & 0x3F))
        }
    }
}
