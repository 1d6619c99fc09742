import Foundation
import Testing

@testable import ErnieTokenizer

/// Ids, decoded text and streaming against the sentencepiece library (with transformers' slow-tokenizer handling of
/// added tokens) for four locally trained models.
@Suite struct SentencePieceFixtureTests {
    static let folders = ["sp-ernie", "sp-unigram-nfkc", "sp-bpe-nfkc", "sp-unigram-suffix"]

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
        try #require(expected.ids.count == lines.count)
        var comparison = LineComparison()
        for (index, line) in lines.enumerated() {
            comparison.check(tokenizer.encode(line), expected.ids[index], "\(folder) ids, \(TokenizerFixtures.describe(index))")
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
        for index in TokenizerFixtures.lines.indices {
            let ids = expected.ids[index]
            comparison.check(tokenizer.decode(ids), expected.decodedText(index), "\(folder) decode, \(TokenizerFixtures.describe(index))")
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
                Issue.record("\(folder): tokenID(for: \(piece.debugDescription)) = \(String(describing: tokenizer.tokenID(for: piece))), expected \(id)")
            }
        }
        for (content, id) in try #require(meta["addedTokens"] as? [String: Int]) {
            #expect(tokenizer.tokenID(for: content) == id, "\(folder): \(content)")
            #expect(tokenizer.token(for: id) == content, "\(folder): \(id)")
        }
    }
}
