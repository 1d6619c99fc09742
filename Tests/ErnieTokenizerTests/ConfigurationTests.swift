import Foundation
import Testing

@testable import ErnieTokenizer

/// Special-token strings, end tokens, chat templates and file selection from the JSON files beside the vocabulary.
@Suite struct ConfigurationTests {
    @Test func chatTemplateListUsesTheDefaultEntry() throws {
        let tokenizer = try TokenizerFixtures.load("sp-bpe-nfkc")
        #expect(tokenizer.chatTemplate == "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}")
        // pad_token is null and is left out.
        #expect(tokenizer.specialTokenStrings == ["bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"])
    }

    @Test func addedTokenObjectsAndGenerationConfigEOSList() throws {
        let tokenizer = try TokenizerFixtures.load("sp-unigram-nfkc")
        // eos_token given as an AddedToken object; generation_config.json eos_token_id [2, 2000].
        #expect(tokenizer.specialTokenStrings["eos_token"] == "</s>")
        #expect(tokenizer.eosTokenIDs == [2, 2000])
        #expect(tokenizer.tokenID(for: "<|tool_call|>") == 2000)
        #expect(tokenizer.tokenID(for: "<|pad|>") == 2001)
        #expect(tokenizer.specialTokenIDs.contains(2000))
        #expect(!tokenizer.specialTokenIDs.contains(2001), "added_tokens_decoder entry with special: false")
        let control = try #require(tokenizer.tokenID(for: "<ctrl>"))
        #expect(tokenizer.specialTokenIDs.contains(control), "control piece listed in additional_special_tokens")
        #expect(tokenizer.vocabularySize == 2002)
        // <|pad|> has lstrip and rstrip: the whitespace around it goes (transformers' slow tokenize).
        let pad = 2001
        #expect(tokenizer.encode("a \t<|pad|>  b") == tokenizer.encode("a") + [pad] + tokenizer.encode("b"))
    }

    @Test func folderWithoutConfigurationFiles() throws {
        let tokenizer = try TokenizerFixtures.load("sp-unigram-suffix")
        #expect(tokenizer.specialTokenStrings.isEmpty)
        #expect(tokenizer.specialTokenIDs.isEmpty)
        #expect(tokenizer.chatTemplate == nil)
        // No eos_token configured: the model's own </s> (trainer_spec.eos_id).
        #expect(tokenizer.eosTokenIDs == [2])
        #expect(tokenizer.vocabularySize == 1500)
    }

    @Test func chatTemplateFilesWinOverTheConfig() throws {
        let folder = try TemporaryFolder()
        try folder.copy("tokenizer.model", from: "sp-bpe-nfkc")
        try folder.copy("tokenizer_config.json", from: "sp-bpe-nfkc")
        try folder.write("chat_template.json", json: ["chat_template": "from chat_template.json"])
        #expect(try Tokenizer.load(directory: folder.path).chatTemplate == "from chat_template.json")
        try folder.write("chat_template.jinja", "{{ 'from the .jinja file' }}\n")
        #expect(try Tokenizer.load(directory: folder.path).chatTemplate == "{{ 'from the .jinja file' }}\n")
    }

    @Test func imEndIsAnEndTokenWhenPresent() throws {
        let folder = try TemporaryFolder()
        try folder.copy("tokenizer.model", from: "sp-ernie")
        try folder.write(
            "tokenizer_config.json",
            json: [
                "eos_token": "</s>",
                "added_tokens_decoder": ["2000": ["content": "<|im_end|>", "special": true]],
            ])
        let tokenizer = try Tokenizer.load(directory: folder.path)
        let endOfSentence = try #require(tokenizer.tokenID(for: "<|end_of_sentence|>"))
        #expect(tokenizer.eosTokenIDs == [2, 2000, endOfSentence])
        #expect(tokenizer.encode("hi<|im_end|>").last == 2000)
        #expect(tokenizer.encode("hi<|im_end|>", parseSpecialTokens: false).last != 2000)
    }

    @Test func formatPreferenceWhenBothFilesArePresent() throws {
        let folder = try TemporaryFolder()
        try folder.copy("tokenizer.model", from: "sp-ernie")
        try folder.copy("tokenizer.json", from: "hf-ernie")
        #expect(try Tokenizer.load(directory: folder.path).format == .sentencePiece)
        #expect(try Tokenizer.load(directory: folder.path, format: .huggingFaceJSON).format == .huggingFaceJSON)
        #expect(try Tokenizer.load(directory: folder.path, format: .sentencePiece).format == .sentencePiece)
        try FileManager.default.removeItem(atPath: folder.path + "/tokenizer.model")
        #expect(try Tokenizer.load(directory: folder.path).format == .huggingFaceJSON)
        #expect(throws: TokenizerError.self) { try Tokenizer.load(directory: folder.path, format: .sentencePiece) }
    }

    @Test func configurationTokensAreAddedToATokenizerJSON() throws {
        let folder = try TemporaryFolder()
        try folder.copy("tokenizer.json", from: "hf-bytelevel")
        try folder.write(
            "tokenizer_config.json",
            json: [
                "eos_token": "<|im_end|>",
                "bos_token": ["content": "<|endoftext|>", "special": true],
                "added_tokens_decoder": ["2100": ["content": "<extra>", "special": true, "normalized": false]],
            ])
        try folder.write("added_tokens.json", json: ["<more>": 2101])
        let tokenizer = try Tokenizer.load(directory: folder.path)
        #expect(tokenizer.eosTokenIDs == [2])
        #expect(tokenizer.tokenID(for: "<extra>") == 2100)
        #expect(tokenizer.tokenID(for: "<more>") == 2101)
        #expect(tokenizer.vocabularySize == 2102)
        #expect(tokenizer.encode("a<extra>b<more>") == tokenizer.encode("a") + [2100] + tokenizer.encode("b") + [2101])
        #expect(tokenizer.specialTokenIDs.contains(2100))
        #expect(!tokenizer.specialTokenIDs.contains(2101))
        #expect(tokenizer.decode([2100, 2101], skipSpecialTokens: true) == "<more>")
    }
}
