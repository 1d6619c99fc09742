import Foundation
import Testing

@testable import ErnieTokenizer

/// Ids and decoded text against the tokenizers library for three tokenizer.json files: model (a) converted by
/// transformers' LlamaConverter as ERNIE's fast tokenizer is (Metaspace, BPE + byte fallback), model (c) converted in
/// legacy mode (Prepend/Replace normalizers, Strip decoder), a GPT-2 style byte-level BPE trained with tokenizers, and
/// hf-ernie with a splitting Metaspace pre-tokenizer and a Metaspace decoder (prepend_scheme "first" and "always").
@Suite struct HuggingFaceFixtureTests {
    static let folders = ["hf-ernie", "hf-llama-legacy", "hf-bytelevel", "hf-metaspace-first", "hf-metaspace-always"]

    @Test(arguments: folders)
    func idsMatchTokenizers(folder: String) throws {
        let tokenizer = try TokenizerFixtures.load(folder)
        #expect(tokenizer.format == .huggingFaceJSON)
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
    func decodingMatchesTokenizers(folder: String) throws {
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

    @Test func mergesWrittenAsStringsGiveTheSameIDs() throws {
        // Older tokenizer.json files write merges as "a b" strings instead of ["a", "b"] pairs; the tokenizers
        // library reads both the same way, so the reference ids of hf-ernie apply unchanged.
        var json = try TemporaryFolder.fixtureJSON("hf-ernie", "tokenizer.json")
        var model = try #require(json["model"] as? [String: Any])
        let merges = try #require(model["merges"] as? [[String]])
        try #require(merges.allSatisfy { $0.count == 2 && !$0[0].contains(" ") && !$0[1].contains(" ") })
        model["merges"] = merges.map { $0.joined(separator: " ") }
        json["model"] = model
        let folder = try TemporaryFolder()
        try folder.write("tokenizer.json", json: json)
        let tokenizer = try Tokenizer.load(directory: folder.path)
        let expected = try TokenizerFixtures.expected("hf-ernie")
        var comparison = LineComparison()
        for (index, line) in TokenizerFixtures.lines.enumerated() {
            comparison.check(tokenizer.encode(line), expected.ids[index], "ids, \(TokenizerFixtures.describe(index))")
        }
        #expect(comparison.failures == 0)
    }
}
