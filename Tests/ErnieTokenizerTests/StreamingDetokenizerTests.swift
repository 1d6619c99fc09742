import Foundation
import Testing

@testable import ErnieTokenizer

/// Appending ids one at a time: the concatenated output equals `decode` (which the fixture tests check against the
/// reference libraries) for every test line, with and without skipping special tokens.
@Suite struct StreamingDetokenizerTests {
    static let folders = SentencePieceFixtureTests.folders + HuggingFaceFixtureTests.folders

    @Test(arguments: folders)
    func concatenationEqualsDecode(folder: String) throws {
        let tokenizer = try TokenizerFixtures.load(folder)
        let expected = try TokenizerFixtures.expected(folder)
        var comparison = LineComparison()
        for skip in [false, true] {
            for (index, ids) in expected.ids.enumerated() {
                var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skip)
                var text = ""
                for id in ids { text += detokenizer.append(id) }
                text += detokenizer.finish()
                comparison.check(
                    text, tokenizer.decode(ids, skipSpecialTokens: skip),
                    "\(folder) streaming (skip: \(skip)), \(TokenizerFixtures.describe(index))"
                )
            }
        }
        #expect(comparison.failures == 0)
    }

    @Test func bytePiecesAreHeldUntilTheirCharacterIsComplete() throws {
        let tokenizer = try TokenizerFixtures.load("sp-ernie")
        let bytes = try [0xF0, 0x9F, 0xA6, 0xA9].map { byte in
            try #require(tokenizer.tokenID(for: "<0x\(String(byte, radix: 16, uppercase: true))>"))
        }
        #expect(tokenizer.encode("🦩") == bytes)  // not in the vocabulary: byte fallback
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: false)
        #expect(bytes.dropLast().map { detokenizer.append($0) } == ["", "", ""])
        #expect(detokenizer.append(bytes[3]) == "🦩")
        // An unfinished character at the end: sentencepiece turns each of its bytes into U+FFFD.
        #expect(detokenizer.append(bytes[0]) == "")
        #expect(detokenizer.append(bytes[1]) == "")
        #expect(detokenizer.finish() == "\u{FFFD}\u{FFFD}")
        #expect(tokenizer.decode(bytes + bytes.prefix(2)) == "🦩\u{FFFD}\u{FFFD}")
    }

    @Test(arguments: folders)
    func multiByteCharactersAreEmittedWhole(folder: String) throws {
        let tokenizer = try TokenizerFixtures.load(folder)
        let text = "👨‍👩‍👧‍👦 𠀀𪚥 你好 ｶﾀｶﾅ ﬁ"
        let ids = tokenizer.encode(text)
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: false)
        var chunks = ids.map { detokenizer.append($0) }
        chunks.append(detokenizer.finish())
        #expect(chunks.joined() == tokenizer.decode(ids))
        // The reference decoding has no U+FFFD here, so no chunk may hold a partial character as one.
        if !tokenizer.decode(ids).contains("\u{FFFD}") {
            #expect(!chunks.contains { $0.contains("\u{FFFD}") })
        }
    }
}
