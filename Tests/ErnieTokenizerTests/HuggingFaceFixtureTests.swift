import Foundation
import Testing

@testable import ErnieTokenizer

/// Ids and decoded text against the tokenizers library for three tokenizer.json files: model (a) converted by
/// transformers' LlamaConverter as ERNIE's fast tokenizer is (Metaspace, BPE + byte fallback), model (c) converted in
/// legacy mode (Prepend/Replace normalizers, Strip decoder), and a GPT-2 style byte-level BPE trained with tokenizers.
@Suite struct HuggingFaceFixtureTests {
    static let folders = ["hf-ernie", "hf-llama-legacy", "hf-bytelevel"]

    @Test(arguments: folders)
    func idsMatchTokenizers(folder: String) throws {
        let tokenizer = try TokenizerFixtures.load(folder)
        #expect(tokenizer.format == .huggingFaceJSON)
        let expected = try TokenizerFixtures.expected(folder)
        let lines = TokenizerFixtures.lines
        try #require(expected.ids.count <= lines.count && expected.ids.count >= 250)
        // Every line for the main fixtures; the UNUSED-piece variants keep only the first 250 to save space.
        if !folder.hasSuffix("-unused") { #expect(expected.ids.count == lines.count) }
        var comparison = LineComparison()
        for (index, line) in lines.prefix(expected.ids.count).enumerated() {
            comparison.check(tokenizer.encode(line), expected.ids[index], "\(folder) ids, \(TokenizerFixtures.describe(index))")
            comparison.check(
                tokenizer.encode(line, parseSpecialTokens: false), expected.idsPlain(index),
                "\(folder) ids without special tokens, \(TokenizerFixtures.describe(index))"
            )
        }
        #expect(comparison.failures == 0)
    }

    @Test(arguments: folders)
    func decodingMatchesTokenizers(folder: String) throws {
        let tokenizer = try TokenizerFixtures.load(folder)
        let expected = try TokenizerFixtures.expected(folder)
        var comparison = LineComparison()
        for (index, ids) in expected.ids.enumerated() {
            comparison.check(tokenizer.decode(ids), expected.decodedText(index), "\(folder) decode, \(TokenizerFixtures.describe(index))")
            comparison.check(
                tokenizer.decode(ids, skipSpecialTokens: true), expected.skippedText(index),
                "\(folder) decode skipping special tokens, \(TokenizerFixtures.describe(index))"
            )
        }
        #expect(comparison.failures == 0)
    }

    @Test(arguments: folders)
    func vocabularyMatchesTokenizers(folder: String) throws {
        let tokenizer = try TokenizerFixtures.load(folder)
        let meta = try TokenizerFixtures.expected(folder).meta
        #expect(tokenizer.vocabularySize == meta["vocabularySize"] as? Int)
        #expect(tokenizer.specialTokenIDs == Set(try #require(meta["specialTokenIDs"] as? [Int])))
        for (content, id) in try #require(meta["addedTokens"] as? [String: Int]) {
            #expect(tokenizer.tokenID(for: content) == id, "\(folder): \(content)")
            #expect(tokenizer.token(for: id) == content, "\(folder): \(id)")
        }
    }
}
