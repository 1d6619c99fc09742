/// A `tokenizer.model` plus the added and special tokens of its folder, with the semantics of Baidu's
/// `Ernie4_5_Tokenizer` and transformers' slow (Python) tokenizers:
///
/// - text is first split on every added token (leftmost-longest match); each remaining segment is encoded by
///   sentencepiece on its own (so a dummy-prefix model adds its `▁` to every segment), and tokens map to their ids;
/// - spaces around added tokens are kept, except that a token with `rstrip` removes the whitespace (Python's
///   `str.isspace`) at the start of the next segment and one with `lstrip` the whitespace at the end of the previous
///   segment (transformers' `tokenize`);
/// - without special-token parsing the whole text goes to sentencepiece (transformers' `split_special_tokens`);
/// - the model's user-defined pieces that the configuration does not list are not split out beforehand:
///   sentencepiece matches them whole inside each segment, as Baidu's tokenizer lets it do (for ERNIE, which has no
///   dummy prefix, splitting first would give the same ids; for dummy-prefix models it would add a `▁`);
/// - decoding emits added tokens verbatim and decodes each run of pieces between them with sentencepiece.
final class SentencePieceTokenizer: Sendable {
    let model: SentencePieceModel
    let added: AddedVocabulary
    private let matcher: AddedTokenMatcher

    init(model: SentencePieceModel, configuration: TokenizerConfiguration) {
        self.model = model
        var added = AddedVocabulary()
        for (content, id) in configuration.addedTokensFile {
            added.add(AddedTokenSpec(content: content), id: id)
        }
        for (id, spec) in configuration.addedTokensDecoder {
            added.add(spec, id: id)
        }
        for content in configuration.specialContents {
            if added.id(for: content) == nil, let id = model.pieceID(content) {
                var spec = configuration.specialTokenFlags[content] ?? AddedTokenSpec(content: content)
                spec.special = true
                added.add(spec, id: id)
            }
            added.markSpecial(content)
        }
        self.added = added
        self.matcher = added.matcher()
    }

    func encode(_ text: String, parseSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = []
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { buffer in
            if !parseSpecialTokens || matcher.isEmpty {
                model.encode(buffer, into: &ids)
                return
            }
            for segment in segments(buffer) {
                switch segment {
                case .text(let range):
                    if !range.isEmpty { model.encode(UnsafeBufferPointer(rebasing: buffer[range]), into: &ids) }
                case .token(let entry):
                    ids.append(added.entries[entry].id)
                }
            }
        }
        return ids
    }

    private enum Segment {
        case text(Range<Int>)
        case token(Int)
    }

    /// The text split on added tokens, with `lstrip`/`rstrip` applied to the neighbouring text.
    private func segments(_ text: UnsafeBufferPointer<UInt8>) -> [Segment] {
        var result: [Segment] = []
        var position = 0
        for match in matcher.matches(in: text) {
            if position < match.range.lowerBound { result.append(.text(position..<match.range.lowerBound)) }
            result.append(.token(match.entry))
            position = match.range.upperBound
        }
        if position < text.count { result.append(.text(position..<text.count)) }
        for index in result.indices {
            guard case .token(let entry) = result[index] else { continue }
            let spec = added.entries[entry].spec
            if spec.rstrip, index + 1 < result.count, case .text(let range) = result[index + 1] {
                result[index + 1] = .text(
                    UTF8Scalars.trimmingLeading(range, in: text, where: UnicodeClasses.isPythonWhitespace))
            }
            if spec.lstrip, index > 0, case .text(let range) = result[index - 1] {
                result[index - 1] = .text(
                    UTF8Scalars.trimmingTrailing(range, in: text, where: UnicodeClasses.isPythonWhitespace))
            }
        }
        return result
    }

    /// The surface of `id` when it is an added token, for decoding.
    func addedContent(_ id: Int) -> String? { added.contentByID[id] }
}

/// Scalar-wise trimming of UTF-8 byte ranges.
enum UTF8Scalars {
    /// The scalar starting at `index` and its length.
    static func scalar(at index: Int, in bytes: UnsafeBufferPointer<UInt8>) -> (Unicode.Scalar, Int) {
        let lead = bytes[index]
        let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        var value = length == 1 ? UInt32(lead) : UInt32(lead) & (0x7F >> UInt32(length))
        var offset = 1
        while offset < length && index + offset < bytes.count {
            value = value << 6 | UInt32(bytes[index + offset] & 0x3F)
            offset += 1
        }
        return (Unicode.Scalar(value) ?? "\u{FFFD}", offset)
    }

    static func trimmingLeading(
        _ range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>, where predicate: (Unicode.Scalar) -> Bool
    ) -> Range<Int> {
        var start = range.lowerBound
        while start < range.upperBound {
            let (scalar, length) = scalar(at: start, in: bytes)
            if !predicate(scalar) { break }
            start += length
        }
        return start..<range.upperBound
    }

    static func trimmingTrailing(
        _ range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>, where predicate: (Unicode.Scalar) -> Bool
    ) -> Range<Int> {
        var end = range.upperBound
        while end > range.lowerBound {
            var start = end - 1
            while start > range.lowerBound && bytes[start] & 0xC0 == 0x80 { start -= 1 }
            let (scalar, _) = scalar(at: start, in: bytes)
            if !predicate(scalar) { break }
            end = start
        }
        return range.lowerBound..<end
    }
}
