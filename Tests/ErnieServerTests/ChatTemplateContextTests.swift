import ErnieTemplate
import ErnieTestSupport
import ErnieTokenizer
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ErnieServer

/// What the chat template sees: messages (normalised, keys in the client's order), tools, `chat_template_kwargs` and
/// `add_generation_prompt`. The expected rendering was produced by jinja2 3.1.6 with transformers' `tojson`
/// (`json.dumps(..., ensure_ascii=False)`) for the same template and variables.
@Suite struct ChatTemplateContextTests {
    static let template = """
        {% for m in messages %}{{ m | tojson }}
        {% endfor %}{{ tools | tojson }}|{{ flavor }}|{{ add_generation_prompt }}
        """
    static let expected =
        #"{"role": "user", "content": "a\nb", "name": "x"}"# + "\n" + #"{"role": "system", "content": "s"}"# + "\n"
        + #"[{"type": "function", "function": {"name": "f", "parameters": {"z": 1, "a": 2}}}]|sweet|False"#

    static let body = #"""
        {"messages": [
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "name": "x"},
            {"role": "developer", "content": "s"}],
         "tools": [{"type": "function", "function": {"name": "f", "parameters": {"z": 1, "a": 2}}}],
         "chat_template_kwargs": {"flavor": "sweet"},
         "add_generation_prompt": false}
        """#

    @Test func tokenizeRendersMessagesToolsAndKwargsInOrder() async throws {
        let tokenizer = try Tokenizer.load(directory: Fixtures.path("tokenizer/hf-ernie"))
        let template = try ChatTemplate(source: Self.template)
        try await TestServer(tokenizer: tokenizer, chatTemplate: template).test { client in
            let response = try await client.post("/tokenize", json: Self.body)
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            let object = try response.object()
            let expectedTokens = tokenizer.encode(Self.expected)
            #expect(object["tokens"] as? [Int] == expectedTokens)
            #expect(object["count"] as? Int == expectedTokens.count)
            #expect(tokenizer.decode(expectedTokens) == Self.expected)
        }
    }

    @Test func toolChoiceNoneLeavesToolsOut() throws {
        let tools = #"[{"type": "function", "function": {"name": "f"}}]"#
        func request(_ choice: String) throws -> ChatCompletionRequest {
            try ChatCompletionRequest(
                JSONParser.parse(
                    #"{"messages": [{"role": "user", "content": "hi"}], "tools": \#(tools), "tool_choice": \#(choice)}"#
                ))
        }
        #expect(try request(#""none""#).tools == nil)
        #expect(try request(#""auto""#).tools == JSONParser.parse(tools))
        #expect(try request(#"{"type": "function", "function": {"name": "f"}}"#).tools != nil)
        #expect(throws: APIError.self) { try request("42") }
    }

    @Test func settingAKeyKeepsItsPlaceLikeAPythonDict() throws {
        guard case .object(var object) = try JSONParser.parse(#"{"a": 1, "b": 2, "a": 3, "c": 4}"#) else {
            Issue.record("not an object")
            return
        }
        object["a"] = 5
        object["d"] = 6
        #expect(object.keys == ["a", "b", "c", "d"])
        #expect(object["a"] == .int(5))
        object["b"] = nil
        #expect(object.keys == ["a", "c", "d"])
    }

    @Test func templateErrorsAre400() async throws {
        let tokenizer = try Tokenizer.load(directory: Fixtures.path("tokenizer/hf-ernie"))
        let template = try ChatTemplate(source: "{{ raise_exception('no system messages, please') }}")
        try await TestServer(tokenizer: tokenizer, chatTemplate: template).test { client in
            let response = try await client.post(
                "/v1/chat/completions", json: #"{"messages": [{"role": "user", "content": "hi"}]}"#)
            try expectOpenAIError(response, status: .badRequest, code: "chat_template_error")
            let message = try #require((try response.object()["error"] as? [String: Any])?["message"] as? String)
            #expect(message.contains("no system messages, please"))
        }
    }

    @Test func samplingDefaultsComeFromGenerationConfig() throws {
        // Tests/Fixtures/tokenizer/sp-ernie/generation_config.json: temperature 0.8, top_p 0.8, repetition 1.0.
        let defaults = try SamplingDefaults.load(directory: Fixtures.path("tokenizer/sp-ernie"))
        #expect(defaults == SamplingDefaults(temperature: 0.8, topP: 0.8, repetitionPenalty: 1.0))
        var options = GenerationOptions()
        options.topP = 0.5
        let params = options.samplingParams(defaults: defaults)
        #expect(params.temperature == 0.8)
        #expect(params.topP == 0.5, "a request value wins over the model's default")
        #expect(params.topK == -1 && params.minP == 0)
        #expect(options.samplingParams(defaults: .none).temperature == 1, "OpenAI's default without a model default")
        #expect(try SamplingDefaults.load(directory: Fixtures.path("tokenizer/hf-ernie")) == .none)
    }
}
