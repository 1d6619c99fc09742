import Foundation
import Testing

@testable import ErnieTokenizer

/// ERNIE-4.5's real tokenizer_config.json, special_tokens_map.json, added_tokens.json and generation_config.json
/// (copied into the sp-ernie fixture) loaded together with the locally trained ERNIE-like model (a).
@Suite struct ErnieConfigurationTests {
    static func json(_ file: String) throws -> [String: Any] {
        let data = try #require(
            FileManager.default.contents(atPath: TokenizerFixtures.directory("sp-ernie") + "/" + file))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func addedTokensKeepTheirIDsBeyondTheBaseVocabulary() throws {
        let tokenizer = try TokenizerFixtures.load("sp-ernie")
        let added = try ErnieConfigurationTests.json("added_tokens.json")
        #expect(added.count == 1009)
        for (content, value) in added {
            let id = try #require(value as? Int)
            #expect(tokenizer.tokenID(for: content) == id, "\(content)")
            #expect(tokenizer.token(for: id) == content)
            #expect(tokenizer.specialTokenIDs.contains(id), "\(content) is listed in additional_special_tokens")
            #expect(tokenizer.encode("x" + content + "y") == tokenizer.encode("x") + [id] + tokenizer.encode("y"))
        }
        #expect(tokenizer.tokenID(for: "<|LOC_1000|>") == 101297)
        // Highest added id 101303 (<|IMAGE_SEP|>) + 1; the base model has 2000 pieces.
        #expect(tokenizer.tokenID(for: "<|IMAGE_SEP|>") == 101303)
        #expect(tokenizer.vocabularySize == 101304)
        let meta = try TokenizerFixtures.expected("sp-ernie").meta
        #expect(tokenizer.vocabularySize == meta["vocabularySize"] as? Int)
        #expect(meta["baseVocabularySize"] as? Int == 2000)
    }

    @Test func idsBetweenTheBaseVocabularyAndTheAddedTokensAreNotTokens() throws {
        let tokenizer = try TokenizerFixtures.load("sp-ernie")
        for id in [2000, 50_000, 100_294, 101_304, 103_423, -1] {
            #expect(tokenizer.token(for: id) == nil)
            #expect(tokenizer.decode([id]) == "")
        }
        let hello = tokenizer.encode("Hello")
        #expect(tokenizer.decode(hello + [50_000] + hello) == "HelloHello")
        #expect(tokenizer.decode([101_303, 100_297]) == "<|IMAGE_SEP|><|LOC_0|>")
        #expect(tokenizer.decode([101_303, 100_297], skipSpecialTokens: true) == "")
    }

    @Test func specialTokensStringsAndEndTokens() throws {
        let tokenizer = try TokenizerFixtures.load("sp-ernie")
        let config = try ErnieConfigurationTests.json("tokenizer_config.json")
        let expectedStrings = config.filter { $0.key.hasSuffix("_token") }.compactMapValues { $0 as? String }
        #expect(tokenizer.specialTokenStrings == expectedStrings)
        #expect(tokenizer.specialTokenStrings["cls_token"] == "<|begin_of_sentence|>")
        #expect(tokenizer.specialTokenStrings["sep_token"] == "<|end_of_sentence|>")
        #expect(tokenizer.specialTokenStrings["sys_start_token"] == "<mask:4>")

        // </s> (eos_token and generation_config's eos_token_id 2) and <|end_of_sentence|>; no <|im_end|> here.
        let endOfSentence = try #require(tokenizer.tokenID(for: "<|end_of_sentence|>"))
        #expect(tokenizer.tokenID(for: "</s>") == 2)
        #expect(tokenizer.eosTokenIDs == [2, endOfSentence])
        #expect(tokenizer.tokenID(for: "<|im_end|>") == nil)

        // The *_token values are special (they are user-defined or control pieces of model (a)).
        for content in expectedStrings.values {
            let id = try #require(tokenizer.tokenID(for: content), "\(content)")
            #expect(tokenizer.specialTokenIDs.contains(id), "\(content)")
        }
        let meta = try TokenizerFixtures.expected("sp-ernie").meta
        #expect(tokenizer.specialTokenIDs == Set(try #require(meta["specialTokenIDs"] as? [Int])))
    }

    @Test func chatTemplateIsTheConfiguredOne() throws {
        let tokenizer = try TokenizerFixtures.load("sp-ernie")
        let config = try ErnieConfigurationTests.json("tokenizer_config.json")
        let template = try #require(config["chat_template"] as? String)
        #expect(tokenizer.chatTemplate == template)
        #expect(tokenizer.chatTemplate?.contains("Assistant: ") == true)
    }

    @Test func chatPromptEncodesSpecialTokensAsSingleIDs() throws {
        let tokenizer = try TokenizerFixtures.load("sp-ernie")
        let begin = try #require(tokenizer.tokenID(for: "<|begin_of_sentence|>"))
        let end = try #require(tokenizer.tokenID(for: "<|end_of_sentence|>"))
        let prompt = "<|begin_of_sentence|>User: Hi\nAssistant: Hello!<|end_of_sentence|>User: Bye\nAssistant: "
        let ids = tokenizer.encode(prompt)
        #expect(ids.first == begin)
        #expect(ids.filter { $0 == end }.count == 1)
        #expect(tokenizer.decode(ids) == prompt)
        #expect(tokenizer.decode(ids, skipSpecialTokens: true) == "User: Hi\nAssistant: Hello!User: Bye\nAssistant: ")
        // Without special-token parsing the markers are still user-defined pieces of the model, matched whole.
        #expect(tokenizer.encode(prompt, parseSpecialTokens: false).first == begin)
        // No BOS is added.
        #expect(tokenizer.encode("Hello").first != 1)
    }
}
