/// A Hugging Face `tokenizer.json` (BPE model), encoding as the tokenizers library's `Tokenizer::encode` with
/// `add_special_tokens=False` (the post-processor is not applied, so no BOS is added):
///
/// 1. added tokens with `normalized: false` are found in the raw text (leftmost-longest, honouring `single_word`,
///    `lstrip`, `rstrip`; special ones are skipped when special-token parsing is off, like `encode_special_tokens`);
/// 2. each other segment is normalized, then added tokens with `normalized: true` are found in it;
/// 3. the remaining pieces are pre-tokenized into words and each word is encoded by the BPE model.
///
/// Decoding maps ids to tokens (added tokens first), drops special ones when asked, and runs the decoder.
final class HFTokenizer: Sendable {
    let path: String
    let normalizer: HFNormalizer
    let preTokenizer: HFPreTokenizer
    let model: HFBPEModel
    let decoder: HFDecoder
    let added: AddedVocabulary
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    /// Contents of special added tokens (a token whose string equals one of them is skipped when decoding).
    private let specialContents: Set<String>

    init(document: JSONDocument, configuration: TokenizerConfiguration) throws {
        let reader = JSONReader(path: document.path)
        let root = document.root
        path = document.path
        let model = try HFBPEModel(json: try reader.requiredObject(root["model"], "model"), reader: reader)
        let normalizer = try HFNormalizer(json: root["normalizer"], reader: reader, key: "normalizer")
        self.model = model
        self.normalizer = normalizer
        preTokenizer = try HFPreTokenizer(json: root["pre_tokenizer"], reader: reader, key: "pre_tokenizer")
        decoder = try HFDecoder(json: root["decoder"], reader: reader)

        var added = AddedVocabulary()
        for (index, item) in (try reader.array(root["added_tokens"], "added_tokens") ?? []).enumerated() {
            let key = "added_tokens[\(index)]"
            guard let object = try reader.object(item, key),
                let spec = try TokenizerConfiguration.tokenSpec(item, special: false, reader: reader, key: key),
                let id = try reader.int(object["id"], "\(key).id"), id >= 0, id <= AddedVocabulary.maximumID
            else { throw TokenizerError.file(document.path, "\(key) must be an AddedToken object with an id") }
            added.add(spec, id: id)
        }
        // Tokens the configuration files add (transformers adds them to the fast tokenizer as well).
        for (content, id) in configuration.addedTokensFile where added.id(for: content) == nil {
            added.add(AddedTokenSpec(content: content, normalized: true), id: id)
        }
        for (id, spec) in configuration.addedTokensDecoder where added.id(for: spec.content) == nil {
            added.add(spec, id: id)
        }
        for content in configuration.specialContents {
            if added.id(for: content) == nil, let id = model.vocabulary.lookup(content) {
                added.add(AddedTokenSpec(content: content, normalized: false, special: true), id: Int(id))
            }
            added.markSpecial(content)
        }
        self.added = added
        rawMatcher = added.matcher(including: { !$0.spec.normalized })
        normalizedMatcher = added.matcher(including: { $0.spec.normalized }, key: { normalizer.apply($0.spec.content) })
        specialContents = Set(added.entries.filter(\.spec.special).map(\.spec.content))
    }

    func tokenID(for token: String) -> Int? {
        if let id = added.id(for: token) { return id }
        return model.vocabulary.lookup(token).map(Int.init)
    }

    func token(for id: Int) -> String? {
        if let content = added.contentByID[id] { return content }
        guard id >= 0 && id < model.tokens.count else { return nil }
        return model.tokens[id]
    }

    /// The token string that decoding feeds to the decoder, or nil when the id is dropped.
    func decodingToken(for id: Int, skipSpecialTokens: Bool) -> String? {
        guard let token = token(for: id) else { return nil }
        if skipSpecialTokens && specialContents.contains(token) { return nil }
        return token
    }

    func encode(_ text: String, parseSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = []
        var cache: [[UInt8]: [Int]] = [:]
        let raw = Array(text.utf8)
        for split in splits(raw, matcher: rawMatcher, parseSpecialTokens: parseSpecialTokens) {
            if let entry = split.entry {
                ids.append(added.entries[entry].id)
                continue
            }
            let segment = String(decoding: raw[split.range], as: UTF8.self)
            let normalized = Array(normalizer.apply(segment).utf8)
            for inner in splits(normalized, matcher: normalizedMatcher, parseSpecialTokens: parseSpecialTokens) {
                if let entry = inner.entry {
                    ids.append(added.entries[entry].id)
                    continue
                }
                let piece = String(decoding: normalized[inner.range], as: UTF8.self)
                let atStart = split.range.lowerBound == 0 && inner.range.lowerBound == 0
                for word in preTokenizer.split(piece, atStart: atStart) {
                    if let cached = cache[word] {
                        ids += cached
                    } else {
                        var wordIDs: [Int] = []
                        model.tokenize(word, into: &wordIDs)
                        cache[word] = wordIDs
                        ids += wordIDs
                    }
                }
            }
        }
        return ids
    }

    private struct Split {
        var range: Range<Int>
        var entry: Int?
    }

    /// `AddedVocabulary::find_matches`: the text cut into added tokens and the (non-empty) text between them.
    private func splits(_ text: [UInt8], matcher: AddedTokenMatcher, parseSpecialTokens: Bool) -> [Split] {
        var result: [Split] = []
        text.withUnsafeBufferPointer { bytes in
            var offset = 0
            for match in matcher.matches(in: bytes) {
                let spec = added.entries[match.entry].spec
                if !parseSpecialTokens && spec.special { continue }
                var start = match.range.lowerBound
                var stop = match.range.upperBound
                if spec.singleWord {
                    let startSpace =
                        start == 0
                        || !HFTokenizer.isWordCharacter(before: start, in: bytes)
                    let stopSpace =
                        stop == bytes.count
                        || !UnicodeClasses.isWordCharacter(UTF8Scalars.scalar(at: stop, in: bytes).0)
                    if !startSpace || !stopSpace { continue }
                }
                if spec.lstrip {
                    let trimmed = UTF8Scalars.trimmingTrailing(0..<start, in: bytes, where: UnicodeClasses.isWhitespace)
                    start = max(trimmed.upperBound, offset)
                }
                if spec.rstrip {
                    stop =
                        UTF8Scalars.trimmingLeading(stop..<bytes.count, in: bytes, where: UnicodeClasses.isWhitespace)
                        .lowerBound
                }
                start = max(start, offset)
                if offset < start { result.append(Split(range: offset..<start, entry: nil)) }
                result.append(Split(range: start..<stop, entry: match.entry))
                offset = stop
            }
            if offset < bytes.count { result.append(Split(range: offset..<bytes.count, entry: nil)) }
        }
        return result
    }

    private static func isWordCharacter(before index: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var start = index - 1
        while start > 0 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        return UnicodeClasses.isWordCharacter(UTF8Scalars.scalar(at: start, in: bytes).0)
    }
}
