import Foundation
import Testing

@testable import ErnieTokenizer

/// Ids and decoded text against the sentencepiece library (with transformers' slow-tokenizer handling of added tokens)
/// for four locally trained models — (a) ERNIE-like BPE + byte fallback + identity, (b) unigram + NFKC, (c) BPE + NFKC
/// + dummy prefix, (d) unigram + byte fallback + whitespace suffix — and variants with UNUSED pieces, a custom
/// unk_surface and unescaped whitespace.
@Suite struct SentencePieceFixtureTests {
    static let folders = [
        "sp-ernie", "sp-unigram-nfkc", "sp-bpe-nfkc", "sp-unigram-suffix", "sp-bpe-unused", "sp-unigram-unused",
        "sp-bpe-noescape",
    ]

    @Test func fixtureLinesCoverTheAcceptanceMix() {
        let lines = TokenizerFixtures.lines
        #expect(lines.count >= 500)
        #expect(lines.contains { $0.contains("👨‍👩‍👧‍👦") })
        #expect(lines.contains { $0.contains("<|begin_of_sentence|>") })
        #expect(lines.contains { $0.contains("ｶﾀｶﾅ") })
        #expect(lines.contains { $0.contains("\t") && $0.contains("\n") })
    }

    @Test(arguments: folders)
    func idsMatchSentencePiece(folder: String) throws {
        let tokenizer = try TokenizerFixtures.load(folder)
        #expect(tokenizer.format == .sentencePiece)
        let expected = try TokenizerFixtures.expected(folder)
        let lines = TokenizerFixtures.lines
        try #require(expected.ids.count <= lines.count && expected.ids.count >= 100)
        // Every line for the main fixtures; the variants keep only the first 100-200 to save space.
        if TokenizerFixtures.mainFolders.contains(folder) { #expect(expected.ids.count == lines.count) }
        var comparison = LineComparison()
        for (index, line) in lines.prefix(expected.ids.count).enumerated() {
            comparison.check(
                tokenizer.encode(line), expected.ids[index], "\(folder) ids, \(TokenizerFixtures.describe(index))")
            comparison.check(
                tokenizer.encode(line, parseSpecialTokens: false), expected.idsPlain(index),
                "\(folder) ids without special tokens, \(TokenizerFixtures.describe(index))"
            )
        }
        #expect(comparison.failures == 0)
    }

    @Test(arguments: folders)
    func decodingMatchesSentencePiece(folder: String) throws {
        let tokenizer = try TokenizerFixtures.load(folder)
        let expected = try TokenizerFixtures.expected(folder)
        var comparison = LineComparison()
        for (index, ids) in expected.ids.enumerated() {
            comparison.check(
                tokenizer.decode(ids), expected.decodedText(index),
                "\(folder) decode, \(TokenizerFixtures.describe(index))")
            comparison.check(
                tokenizer.decode(ids, skipSpecialTokens: true), expected.skippedText(index),
                "\(folder) decode skipping special tokens, \(TokenizerFixtures.describe(index))"
            )
        }
        #expect(comparison.failures == 0)
    }

    @Test(arguments: folders)
    func vocabularyMatchesSentencePiece(folder: String) throws {
        let tokenizer = try TokenizerFixtures.load(folder)
        let meta = try TokenizerFixtures.expected(folder).meta
        #expect(tokenizer.vocabularySize == meta["vocabularySize"] as? Int)
        #expect(tokenizer.specialTokenIDs == Set(try #require(meta["specialTokenIDs"] as? [Int])))
        let pieces = try #require(meta["pieces"] as? [String: String])
        for (key, piece) in pieces {
            let id = try #require(Int(key))
            #expect(tokenizer.token(for: id) == piece)
            if tokenizer.tokenID(for: piece) != id {
                let found = String(describing: tokenizer.tokenID(for: piece))
                Issue.record("\(folder): tokenID(for: \(piece.debugDescription)) = \(found), expected \(id)")
            }
        }
        for (content, id) in try #require(meta["addedTokens"] as? [String: Int]) {
            #expect(tokenizer.tokenID(for: content) == id, "\(folder): \(content)")
            #expect(tokenizer.token(for: id) == content, "\(folder): \(id)")
        }
    }

    @Test(arguments: folders)
    func arbitraryIDSequencesDecodeLikeTheReference(folder: String) throws {
        let tokenizer = try TokenizerFixtures.load(folder)
        let cases = try TokenizerFixtures.expected(folder).decodeCases
        #expect(cases.count >= 80)
        var comparison = LineComparison()
        for (ids, text, skipped) in cases {
            comparison.check(tokenizer.decode(ids), text, "\(folder) decode \(ids)")
            comparison.check(
                tokenizer.decode(ids, skipSpecialTokens: true), skipped, "\(folder) decode skipping \(ids)")
            for skip in [false, true] {
                var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skip)
                var streamed = ids.map { detokenizer.append($0) }.joined()
                streamed += detokenizer.finish()
                comparison.check(streamed, skip ? skipped : text, "\(folder) streaming (skip: \(skip)) \(ids)")
            }
        }
        #expect(comparison.failures == 0)
    }
}
