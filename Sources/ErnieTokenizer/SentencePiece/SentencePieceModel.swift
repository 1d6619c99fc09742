/// A SentencePiece `tokenizer.model`: vocabulary, piece types and scores, normalizer and the BPE or unigram encoder,
/// validated as `ModelInterface::InitializePieces` does.
/// A final class: it is shared by every request and copied into decoding state, so one reference beats copying its
/// many arrays.
final class SentencePieceModel: Sendable {
    typealias PieceType = SentencePieceModelProto.PieceType

    let path: String
    let modelType: SentencePieceModelProto.ModelType
    /// Per id: the piece's UTF-8 bytes, score and type.
    let pieces: [[UInt8]]
    let scores: [Float]
    let types: [PieceType]
    /// Normal, user-defined and unused pieces (sentencepiece's `pieces_`): a trie for the unigram lattice and a hash
    /// table for whole-piece lookups.
    let pieceTrie: ByteTrie
    let pieceTable: ByteStringTable
    /// Unknown, control and byte pieces (sentencepiece's `reserved_id_map_`), looked up first.
    let reservedTable: ByteStringTable
    let unknownID: Int
    let byteFallback: Bool
    /// Per byte value: the id of its `<0xXX>` piece, or -1.
    let byteIDs: [Int32]
    /// Per id: the byte value of a byte piece, or -1.
    let byteValues: [Int16]
    let normalizer: SentencePieceNormalizer
    /// Lowest and highest score of normal pieces (`FLT_MAX`/`FLT_MIN` when there are none), for the unigram encoder.
    let minScore: Float
    let maxScore: Float
    /// What an unknown piece decodes to (`TrainerSpec.unk_surface`, default " ⁇ ").
    let unknownSurface: [UInt8]
    let bosID: Int
    let eosID: Int

    var count: Int { pieces.count }

    convenience init(data: [UInt8], path: String) throws {
        let proto = try SentencePieceModelProto.parse(data, path: path)
        try self.init(proto: proto, path: path)
    }

    init(proto: SentencePieceModelProto, path: String) throws {
        self.path = path
        switch proto.modelType {
        case .unigram, .bpe: modelType = proto.modelType
        case .word: throw TokenizerError.unsupported(path, "SentencePiece model", "WORD")
        case .character: throw TokenizerError.unsupported(path, "SentencePiece model", "CHAR")
        }
        if let denormalizer = proto.denormalizer, !denormalizer.precompiledCharsMap.isEmpty {
            throw TokenizerError.file(path, "a denormalizer_spec with a precompiled_charsmap is not supported")
        }
        var pieceTable = ByteStringTable(capacity: proto.pieces.count)
        var reservedTable = ByteStringTable()
        var userDefined = ByteTrie()
        var unknownID = -1
        var byteIDs = [Int32](repeating: -1, count: 256)
        var byteValues = [Int16](repeating: -1, count: proto.pieces.count)
        var minScore = Float.greatestFiniteMagnitude
        var maxScore = Float.leastNormalMagnitude
        for (index, piece) in proto.pieces.enumerated() {
            let id = Int32(index)
            guard !piece.bytes.isEmpty else { throw TokenizerError.file(path, "piece \(index) is empty") }
            let isNormal = piece.type == .normal || piece.type == .userDefined || piece.type == .unused
            let stored =
                isNormal ? pieceTable.insert(piece.bytes, value: id) : reservedTable.insert(piece.bytes, value: id)
            guard stored == id else {
                throw TokenizerError.file(
                    path,
                    "piece \"\(String(decoding: piece.bytes, as: UTF8.self))\" (id \(index)) "
                        + "is already defined as id \(stored)")
            }
            switch piece.type {
            case .userDefined:
                userDefined.insert(piece.bytes, value: id)
            case .unknown:
                guard unknownID < 0 else {
                    throw TokenizerError.file(path, "more than one unknown piece (ids \(unknownID) and \(index))")
                }
                unknownID = index
            case .byte:
                guard proto.byteFallback else {
                    throw TokenizerError.file(path, "byte piece \(index) found although byte_fallback is false")
                }
                guard let value = SentencePieceModel.byteValue(of: piece.bytes) else {
                    throw TokenizerError.file(path, "byte piece \(index) is not of the form <0xXX>")
                }
                byteIDs[Int(value)] = id
                byteValues[index] = Int16(value)
            case .normal:
                minScore = min(minScore, piece.score)
                maxScore = max(maxScore, piece.score)
            case .control, .unused:
                break
            }
        }
        guard unknownID >= 0 else { throw TokenizerError.file(path, "the model defines no unknown piece") }
        if proto.byteFallback, let missing = byteIDs.firstIndex(of: -1) {
            throw TokenizerError.file(
                path, "byte_fallback is set but the byte piece for 0x\(String(missing, radix: 16)) is missing")
        }
        if proto.modelType == .unigram && pieceTable.count == 0 {
            throw TokenizerError.file(path, "the unigram model has no normal pieces")
        }
        var pieceTrie = ByteTrie(expectedKeyBytes: proto.modelType == .unigram ? pieceTable.count * 4 : 0)
        if proto.modelType == .unigram {
            for (index, piece) in proto.pieces.enumerated()
            where piece.type == .normal || piece.type == .userDefined
                || piece.type == .unused
            {
                pieceTrie.insert(piece.bytes, value: Int32(index))
            }
        }
        self.pieces = proto.pieces.map(\.bytes)
        self.scores = proto.pieces.map(\.score)
        self.types = proto.pieces.map(\.type)
        self.pieceTrie = pieceTrie
        self.pieceTable = pieceTable
        self.reservedTable = reservedTable
        self.unknownID = unknownID
        self.byteFallback = proto.byteFallback
        self.byteIDs = byteIDs
        self.byteValues = byteValues
        self.minScore = minScore
        self.maxScore = maxScore
        self.unknownSurface = proto.unknownSurface ?? Array(" \u{2047} ".utf8)
        self.bosID = Int(proto.bosID)
        self.eosID = Int(proto.eosID)
        self.normalizer = try SentencePieceNormalizer(
            spec: proto.normalizer, treatWhitespaceAsSuffix: proto.treatWhitespaceAsSuffix, userDefined: userDefined,
            context: "\(path): normalizer_spec"
        )
    }

    /// The byte of a `<0xXX>` piece (upper-case hex, as sentencepiece writes them).
    static func byteValue(of piece: [UInt8]) -> UInt8? {
        guard piece.count == 6, piece[0] == UInt8(ascii: "<"), piece[1] == UInt8(ascii: "0"),
            piece[2] == UInt8(ascii: "x"), piece[5] == UInt8(ascii: ">")
        else { return nil }
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        guard let high = hex(piece[3]), let low = hex(piece[4]) else { return nil }
        return high << 4 | low
    }

    /// sentencepiece's `PieceToId`: reserved pieces first, then normal ones, else the unknown id.
    func pieceID(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int {
        if let id = reservedTable.lookup(bytes, range) { return Int(id) }
        if let id = pieceTable.lookup(bytes, range) { return Int(id) }
        return unknownID
    }

    /// The id of a piece given as a string, or nil when it is not in the vocabulary.
    func pieceID(_ piece: String) -> Int? {
        if let id = reservedTable.lookup(piece) { return Int(id) }
        if let id = pieceTable.lookup(piece) { return Int(id) }
        return nil
    }
}
