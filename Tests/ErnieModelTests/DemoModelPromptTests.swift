import ErnieModel
import ErnieTemplate
import ErnieTokenizer
import Foundation
import Testing

/// Our tokenizer and our Jinja interpreter on the demo model's files against transformers: the five fixture chats
/// rendered with the model's chat template and tokenized must give exactly transformers' text and ids.
@Suite struct DemoModelPromptTests {
    /// Renders `messages` the way the server's chat route does: the tokenizer's special-token strings,
    /// `messages`, `add_generation_prompt: true`.
    static func render(_ messages: [DemoModelReference.Message], tokenizer: Tokenizer) throws -> String {
        let source = try #require(tokenizer.chatTemplate, "the demo model's tokenizer_config.json has a template")
        var context: [String: JinjaValue] = [:]
        for (key, value) in tokenizer.specialTokenStrings { context[key] = .string(value) }
        context["messages"] = .array(messages.map {
            .object([("role", .string($0.role)), ("content", .string($0.content))])
        })
        context["add_generation_prompt"] = .bool(true)
        return try ChatTemplate(source: source).render(context)
    }

    @Test func chatPromptsRenderAndTokenizeAsTransformersDoes() throws {
        let reference = try DemoModelFixture.reference()
        let tokenizer = try Tokenizer.load(directory: DemoModelFixture.modelDirectory)
        #expect(reference.cases.count == 5)
        for (index, item) in reference.cases.enumerated() {
            let text = try Self.render(item.messages, tokenizer: tokenizer)
            #expect(text == item.text, "case \(index): rendered prompt differs")
            let ids = tokenizer.encode(text, parseSpecialTokens: true)
            #expect(ids == item.promptIds, "case \(index): prompt ids differ")
            // Decoding the ids gives the prompt back (special tokens kept).
            #expect(tokenizer.decode(ids) == item.text, "case \(index): decode does not round-trip")
        }
    }
}
