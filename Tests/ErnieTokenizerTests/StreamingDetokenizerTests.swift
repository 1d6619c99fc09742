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
}
