/// Reads protocol-buffer wire format (varints, length-delimited fields, fixed32/64) from a byte range, throwing on
/// truncated or malformed input.
struct ProtobufReader {
    enum WireType: Int {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case startGroup = 3
        case endGroup = 4
        case fixed32 = 5
    }

    let bytes: [UInt8]
    /// What is being read, for error messages (`tokenizer.model: ModelProto.pieces[3]`).
    let context: String
    private(set) var position: Int
    let end: Int

    init(bytes: [UInt8], range: Range<Int>, context: String) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
        self.context = context
    }

    var isAtEnd: Bool { position >= end }

    private func error(_ what: String) -> TokenizerError {
        TokenizerError(message: "\(context): \(what) at byte \(position)")
    }

    mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw error("truncated varint") }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw error("varint longer than 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw error("varint longer than 10 bytes") }
        }
    }

    /// The next field number and wire type, or nil at the end of the message.
    mutating func readTag() throws -> (field: Int, wireType: WireType)? {
        if isAtEnd { return nil }
        let tag = try readVarint()
        let field = Int(truncatingIfNeeded: tag >> 3)
        guard field > 0 && field < (1 << 29) else { throw error("invalid field number \(field)") }
        guard let wireType = WireType(rawValue: Int(tag & 7)) else { throw error("invalid wire type \(tag & 7)") }
        return (field, wireType)
    }

    mutating func readLengthDelimited() throws -> Range<Int> {
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw error("length-delimited field of \(length) bytes runs past the end")
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    mutating func readFixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw error("truncated fixed32") }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[position + index]) << (8 * UInt32(index)) }
        position += 4
        return value
    }

    mutating func readFloat() throws -> Float { Float(bitPattern: try readFixed32()) }

    /// Reads an int32 field (negative values are sign-extended to 64 bits on the wire).
    mutating func readInt32() throws -> Int32 { Int32(truncatingIfNeeded: Int64(bitPattern: try readVarint())) }

    mutating func readBool() throws -> Bool { try readVarint() != 0 }

    mutating func readString() throws -> String {
        let range = try readLengthDelimited()
        return String(decoding: bytes[range], as: UTF8.self)
    }

    /// Skips a field of `wireType` whose tag was just read.
    mutating func skip(_ wireType: WireType) throws {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64:
            guard end - position >= 8 else { throw error("truncated fixed64") }
            position += 8
        case .lengthDelimited: _ = try readLengthDelimited()
        case .fixed32: _ = try readFixed32()
        case .startGroup, .endGroup: throw error("unsupported group field")
        }
    }

    /// Throws unless the field just read has the expected wire type.
    func expect(_ wireType: WireType, _ actual: WireType, field: String) throws {
        guard wireType == actual else { throw error("field \(field) has wire type \(actual.rawValue)") }
    }
}
