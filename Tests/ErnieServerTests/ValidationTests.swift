import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ErnieServer

/// Bad requests of every kind get a 4xx in OpenAI's error shape, naming the field, and the server keeps serving.
@Suite(.serialized) struct ValidationTests {
    struct Case: Sendable, CustomStringConvertible {
        var route: String
        var body: [UInt8]
        var status: HTTPResponse.Status
        var param: String?
        var code: String?
        var description: String

        init(
            _ description: String, _ route: String, _ body: String, _ status: HTTPResponse.Status = .badRequest,
            param: String? = nil, code: String? = nil
        ) {
            self.init(description, route, Array(body.utf8), status, param: param, code: code)
        }

        init(
            _ description: String, _ route: String, _ body: [UInt8], _ status: HTTPResponse.Status = .badRequest,
            param: String? = nil, code: String? = nil
        ) {
            self.description = description
            self.route = route
            self.body = body
            self.status = status
            self.param = param
            self.code = code
        }
    }

    static let longPrompt = "[" + Array(repeating: "1", count: 5000).joined(separator: ",") + "]"

    static let cases: [Case] = [
        Case("malformed JSON", "/generate", #"{"input_ids": [1, 2"#, code: "invalid_json"),
        Case("empty body", "/v1/completions", "", code: "invalid_json"),
        Case("not an object", "/v1/completions", "[1, 2]"),
        Case(
            "invalid UTF-8", "/v1/completions",
            Array(#"{"prompt": ""#.utf8) + [0xC3, 0x28, 0xFF] + Array(#"", "max_tokens": 2}"#.utf8),
            code: "invalid_json"),
        Case(
            "wrong type for temperature", "/generate",
            #"{"input_ids": [1, 2], "sampling_params": {"temperature": "hot"}}"#,
            param: "sampling_params.temperature"),
        Case(
            "wrong type for max_tokens", "/v1/completions", #"{"prompt": [1, 2], "max_tokens": "ten"}"#,
            param: "max_tokens"),
        Case("negative max_tokens", "/v1/completions", #"{"prompt": [1, 2], "max_tokens": -1}"#, param: "max_tokens"),
        Case("top_p out of range", "/v1/completions", #"{"prompt": [1, 2], "top_p": 0}"#, param: "top_p"),
        Case("n of zero", "/v1/completions", #"{"prompt": [1, 2], "n": 0}"#, param: "n"),
        Case("stop of the wrong type", "/v1/completions", #"{"prompt": [1, 2], "stop": 5}"#, param: "stop"),
        Case(
            "too many stop strings", "/v1/completions",
            #"{"prompt": [1, 2], "stop": [\#((1...65).map { "\"s\($0)\"" }.joined(separator: ","))]}"#, param: "stop"),
        Case("logit_bias", "/v1/completions", #"{"prompt": [1, 2], "logit_bias": {"5": 10}}"#, param: "logit_bias"),
        Case("token id beyond the vocabulary", "/generate", #"{"input_ids": [1, 999]}"#, param: "input_ids[1]"),
        Case("negative token id", "/v1/completions", #"{"prompt": [3, -1]}"#, param: "prompt[1]"),
        Case("token id that is not an integer", "/generate", #"{"input_ids": [1, "a"]}"#, param: "input_ids[1]"),
        Case(
            "over-long prompt", "/generate", #"{"input_ids": \#(longPrompt)}"#, code: "context_length_exceeded"),
        Case(
            "prompt plus max_tokens over the context", "/v1/completions",
            #"{"prompt": [1, 2, 3], "max_tokens": 5000}"#, param: "max_tokens", code: "context_length_exceeded"),
        Case("text and input_ids together", "/generate", #"{"text": "a", "input_ids": [1]}"#),
        Case("neither text nor input_ids", "/generate", #"{"sampling_params": {}}"#),
        Case("text without a tokenizer", "/generate", #"{"text": "hello"}"#),
        Case(
            "logprob_start_len past the prompt", "/generate",
            #"{"input_ids": [1, 2], "return_logprob": true, "logprob_start_len": 2}"#, param: "logprob_start_len"),
        Case(
            "unknown role", "/v1/chat/completions", #"{"messages": [{"role": "wizard", "content": "hi"}]}"#,
            param: "messages[0].role"),
        Case("messages missing", "/v1/chat/completions", #"{"model": "x"}"#, param: "messages"),
        Case(
            "content of the wrong type", "/v1/chat/completions", #"{"messages": [{"role": "user", "content": 5}]}"#,
            param: "messages[0].content"),
        Case(
            "image content", "/v1/chat/completions",
            #"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}"#,
            param: "messages[0].content[0].type"),
        Case(
            "top_logprobs without logprobs", "/v1/chat/completions",
            #"{"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 2}"#, param: "top_logprobs"),
        Case("chat without a tokenizer", "/v1/chat/completions", #"{"messages": [{"role": "user", "content": "hi"}]}"#),
        Case(
            "unknown model", "/v1/completions", #"{"model": "gpt-4", "prompt": [1]}"#, .notFound, param: "model",
            code: "model_not_found"),
        Case("detokenize beyond the vocabulary", "/detokenize", #"{"tokens": [1, 256]}"#, param: "tokens[1]"),
    ]

    @Test(arguments: cases)
    func rejected(_ bad: Case) async throws {
        try await TestServer(contextLength: 4096).test { client in
            let response = try await client.post(bad.route, bytes: bad.body)
            try expectOpenAIError(response, status: bad.status, param: bad.param, code: bad.code)
            // The server still serves.
            let ok = try await client.post(
                "/generate", json: #"{"input_ids": [1, 2], "sampling_params": {"max_new_tokens": 1}}"#)
            #expect(ok.status == .ok)
        }
    }

    @Test func bodyLargerThanTheLimitIs413() async throws {
        try await TestServer(maxBodyBytes: 4096).test { client in
            let big = #"{"prompt": ""# + String(repeating: "a", count: 10_000) + #""}"#
            let response = try await client.post("/v1/completions", json: big)
            try expectOpenAIError(response, status: .contentTooLarge, code: "request_too_large")
        }
    }

    @Test func fullQueueIs503WithRetryAfter() async throws {
        try await TestServer(maxQueuedRequests: 0).test { client in
            let response = try await client.post("/v1/completions", json: #"{"prompt": [1, 2], "max_tokens": 2}"#)
            try expectOpenAIError(response, status: .serviceUnavailable)
            #expect(response.headers[.retryAfter] != nil)
        }
    }

    @Test func unknownRouteIsJSON404() async throws {
        try await TestServer().test { client in
            try expectOpenAIError(try await client.get("/v1/nothing"), status: .notFound)
            try expectOpenAIError(
                try await client.get("/v1/models/other-model"), status: .notFound, code: "model_not_found")
        }
    }
}
