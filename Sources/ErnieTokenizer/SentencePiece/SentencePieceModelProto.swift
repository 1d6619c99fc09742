/// The fields of SentencePiece's `ModelProto` (`sentencepiece_model.proto`) that encoding and decoding use, parsed
/// from the wire format by hand. Field numbers: ModelProto pieces=1, trainer_spec=2, normalizer_spec=3,
/// denormalizer_spec=5; SentencePiece piece=1, score=2, type=3; TrainerSpec model_type=3,
/// treat_whitespace_as_suffix=24, byte_fallback=35, unk_id=40, bos_id=41, eos_id=42, pad_id=43, unk_surface=44;
/// NormalizerSpec name=1, precompiled_charsmap=2, add_dummy_prefix=3, remove_extra_whitespaces=4,
/// escape_whitespaces=5.
struct SentencePieceModelProto: Sendable {
    enum PieceType: Int, Sendable {
        case normal = 1
        case unknown = 2
        case control = 3
        case userDefined = 4
        case unused = 5
        case byte = 6
    }

    struct Piece: Sendable {
        var bytes: [UInt8] = []
        var score: Float = 0
        var type: PieceType = .normal
    }

    enum ModelType: Int, Sendable {
        case unigram = 1
        case bpe = 2
        case word = 3
        case character = 4
    }

    struct NormalizerSpec: Sendable {
        var name = ""
        var precompiledCharsMap: [UInt8] = []
        var addDummyPrefix = true
        var removeExtraWhitespaces = true
        var escapeWhitespaces = true
    }

    var pieces: [Piece] = []
    var modelType: ModelType = .unigram
    var byteFallback = false
    var treatWhitespaceAsSuffix = false
    var unknownSurface: [UInt8]?
    var unknownID: Int32 = 0
    var bosID: Int32 = 1
    var eosID: Int32 = 2
    var padID: Int32 = -1
    var normalizer = NormalizerSpec()
    var denormalizer: NormalizerSpec?

    /// Parses a serialized `ModelProto`; `path` names the file in errors.
    static func parse(_ bytes: [UInt8], path: String) throws -> SentencePieceModelProto {
        var model = SentencePieceModelProto()
        var reader = ProtobufReader(bytes: bytes, range: 0..<bytes.count, context: "\(path): ModelProto")
        while let (field, wireType) = try reader.readTag() {
            switch field {
            case 1:
                try reader.expect(.lengthDelimited, wireType, field: "pieces")
                let range = try reader.readLengthDelimited()
                let context = "\(path): ModelProto.pieces[\(model.pieces.count)]"
                model.pieces.append(try parsePiece(bytes, range, context: context))
            case 2:
                try reader.expect(.lengthDelimited, wireType, field: "trainer_spec")
                try model.parseTrainerSpec(bytes, try reader.readLengthDelimited(), path: path)
            case 3:
                try reader.expect(.lengthDelimited, wireType, field: "normalizer_spec")
                let range = try reader.readLengthDelimited()
                model.normalizer = try parseNormalizerSpec(bytes, range, context: "\(path): normalizer_spec")
            case 5:
                try reader.expect(.lengthDelimited, wireType, field: "denormalizer_spec")
                let range = try reader.readLengthDelimited()
                model.denormalizer = try parseNormalizerSpec(bytes, range, context: "\(path): denormalizer_spec")
            default:
                try reader.skip(wireType)
            }
        }
        return model
    }

    private static func parsePiece(_ bytes: [UInt8], _ range: Range<Int>, context: String) throws -> Piece {
        var piece = Piece()
        var reader = ProtobufReader(bytes: bytes, range: range, context: context)
        while let (field, wireType) = try reader.readTag() {
            switch field {
            case 1:
                try reader.expect(.lengthDelimited, wireType, field: "piece")
                piece.bytes = Array(bytes[try reader.readLengthDelimited()])
            case 2:
                try reader.expect(.fixed32, wireType, field: "score")
                piece.score = try reader.readFloat()
            case 3:
                try reader.expect(.varint, wireType, field: "type")
                let raw = try reader.readVarint()
                guard let type = PieceType(rawValue: Int(truncatingIfNeeded: raw)), raw <= 6 else {
                    throw TokenizerError(message: "\(context): unknown piece type \(raw)")
                }
                piece.type = type
            default:
                try reader.skip(wireType)
            }
        }
        return piece
    }

    private mutating func parseTrainerSpec(_ bytes: [UInt8], _ range: Range<Int>, path: String) throws {
        var reader = ProtobufReader(bytes: bytes, range: range, context: "\(path): trainer_spec")
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (3, .varint):
                let raw = try reader.readVarint()
                guard let type = ModelType(rawValue: Int(truncatingIfNeeded: raw)), raw <= 4 else {
                    throw TokenizerError(message: "\(path): trainer_spec.model_type has unknown value \(raw)")
                }
                modelType = type
            case (24, .varint): treatWhitespaceAsSuffix = try reader.readBool()
            case (35, .varint): byteFallback = try reader.readBool()
            case (40, .varint): unknownID = try reader.readInt32()
            case (41, .varint): bosID = try reader.readInt32()
            case (42, .varint): eosID = try reader.readInt32()
            case (43, .varint): padID = try reader.readInt32()
            case (44, .lengthDelimited): unknownSurface = Array(bytes[try reader.readLengthDelimited()])
            default: try reader.skip(wireType)
            }
        }
    }

    private static func parseNormalizerSpec(_ bytes: [UInt8], _ range: Range<Int>, context: String) throws
        -> NormalizerSpec
    {
        var spec = NormalizerSpec()
        var reader = ProtobufReader(bytes: bytes, range: range, context: context)
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .lengthDelimited): spec.name = try reader.readString()
            case (2, .lengthDelimited): spec.precompiledCharsMap = Array(bytes[try reader.readLengthDelimited()])
            case (3, .varint): spec.addDummyPrefix = try reader.readBool()
            case (4, .varint): spec.removeExtraWhitespaces = try reader.readBool()
            case (5, .varint): spec.escapeWhitespaces = try reader.readBool()
            default: try reader.skip(wireType)
            }
        }
        return spec
    }
}
