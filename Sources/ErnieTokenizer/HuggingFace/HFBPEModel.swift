/// The `BPE` model of a tokenizer.json, encoding words as the tokenizers library's `BPE::merge_word` and
/// `Word::merge_all` do: characters (with `continuing_subword_prefix` / `end_of_word_suffix`) → ids, unknown
/// characters → `<0xXX>` byte tokens (byte_fallback) or the unknown token (fused with `fuse_unk`), then merges applied
/// lowest rank first (ties: leftmost) from a heap. Supports `ignore_merges`; `dropout` must be null or 0.
final class HFBPEModel: Sendable {
    let vocabulary: ByteStringTable
    /// Id → token (nil for ids the vocabulary skips).
    let tokens: [String?]
    /// `(left id << 32 | right id)` → `(rank << 32 | merged id)`.
    let merges: UInt64Map
    let unknownID: Int?
    let fuseUnknown: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    let continuingSubwordPrefix: [UInt8]?
    let endOfWordSuffix: [UInt8]?
    /// Per byte: the id of `<0xXX>`, or -1.
    let byteIDs: [Int32]

    var highestID: Int { tokens.count - 1 }

    init(json: JSONObject, reader: JSONReader) throws {
        let type = try reader.string(json["type"], "model.type") ?? (json["merges"] != nil ? "BPE" : "")
        guard type == "BPE" else {
            throw TokenizerError.unsupported(reader.path, "model", type.isEmpty ? "(none)" : type)
        }
        if let dropout = try reader.double(json["dropout"], "model.dropout"), dropout != 0 {
            throw TokenizerError.file(reader.path, "model.dropout \(dropout) is not supported (only null or 0)")
        }
        guard let vocabularyJSON = try reader.object(json["vocab"], "model.vocab") else {
            throw TokenizerError.file(reader.path, "model.vocab is missing")
        }
        var vocabulary = ByteStringTable(capacity: vocabularyJSON.count)
        var highest = -1
        var entries: [(String, Int)] = []
        entries.reserveCapacity(vocabularyJSON.count)
        for (token, value) in vocabularyJSON {
            guard let id = try reader.int(value, "model.vocab[\"\(token)\"]"), id >= 0, id <= AddedVocabulary.maximumID
            else {
                throw TokenizerError.file(
                    reader.path, "model.vocab[\"\(token)\"] must be an id from 0 to \(AddedVocabulary.maximumID)"
                )
            }
            entries.append((token, id))
            highest = max(highest, id)
        }
        var tokens = [String?](repeating: nil, count: highest + 1)
        // Last occurrence wins for a repeated token, as when the library reads the map.
        for (token, id) in entries.reversed() where vocabulary.insert(Array(token.utf8), value: Int32(id)) == Int32(id)
        {
            tokens[id] = token
        }
        self.vocabulary = vocabulary
        self.tokens = tokens

        unknownID = try reader.string(json["unk_token"], "model.unk_token").map { unknown in
            guard let id = vocabulary.lookup(unknown) else {
                throw TokenizerError.file(reader.path, "model.unk_token \"\(unknown)\" is not in the vocabulary")
            }
            return Int(id)
        }
        fuseUnknown = try reader.bool(json["fuse_unk"], "model.fuse_unk") ?? false
        byteFallback = try reader.bool(json["byte_fallback"], "model.byte_fallback") ?? false
        ignoreMerges = try reader.bool(json["ignore_merges"], "model.ignore_merges") ?? false
        let prefix = try reader.string(json["continuing_subword_prefix"], "model.continuing_subword_prefix")
        continuingSubwordPrefix = prefix.map { Array($0.utf8) }
        endOfWordSuffix = try reader.string(json["end_of_word_suffix"], "model.end_of_word_suffix").map {
            Array($0.utf8)
        }
        byteIDs = (0..<256).map { byte in
            vocabulary.lookup(HFBPEModel.bytePiece(byte)) ?? -1
        }
        merges = try HFBPEModel.readMerges(
            json["merges"], vocabulary: vocabulary, prefixLength: prefix?.utf8.count ?? 0,
            reader: reader)
    }

    private static func readMerges(
        _ value: JSONValue?, vocabulary: ByteStringTable, prefixLength: Int, reader: JSONReader
    )
        throws
        -> UInt64Map
    {
        guard let list = try reader.array(value, "model.merges") else {
            throw TokenizerError.file(reader.path, "model.merges is missing")
        }
        var merges = UInt64Map(capacity: list.count)
        for (rank, item) in list.enumerated() {
            let key = "model.merges[\(rank)]"
            let pair: [String]
            switch item {
            case .string(let string):
                pair = string.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            case .array(let array):
                pair = try array.enumerated().map { try reader.requiredString($0.element, "\(key)[\($0.offset)]") }
            default:
                throw TokenizerError.file(reader.path, "\(key) must be \"a b\" or [\"a\", \"b\"]")
            }
            guard pair.count == 2 else { throw TokenizerError.file(reader.path, "\(key) is not a pair") }
            guard let left = vocabulary.lookup(pair[0]), let right = vocabulary.lookup(pair[1]) else {
                throw TokenizerError.file(reader.path, "\(key) uses a token that is not in the vocabulary")
            }
            let rightBytes = Array(pair[1].utf8)
            guard rightBytes.count >= prefixLength else {
                throw TokenizerError.file(reader.path, "\(key): \"\(pair[1])\" is shorter than the subword prefix")
            }
            let merged = Array(pair[0].utf8) + rightBytes[prefixLength...]
            guard let mergedID = vocabulary.lookup(merged) else {
                throw TokenizerError.file(reader.path, "\(key): the merged token is not in the vocabulary")
            }
            merges[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))] = UInt64(rank) << 32 | UInt64(UInt32(mergedID))
        }
        return merges
    }

    /// `<0xXX>` with upper-case hex digits.
    private static func bytePiece(_ byte: Int) -> String {
        let digits = Array("0123456789ABCDEF")
        return "<0x\(digits[byte >> 4])\(digits[byte & 15])>"
    }
}
