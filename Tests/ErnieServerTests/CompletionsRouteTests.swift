import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ErnieServer

/// `/v1/completions` with token-id prompts on the fixture model: OpenAI's response and stream shapes, usage, logprobs
/// against transformers.
@Suite(.serialized) struct CompletionsRouteTests {
    static func body(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test func echoWithLogprobsScoresThePromptLikeTransformers() async throws {
        let reference = try FixtureReference.load()
        let prompt = reference.prompts[2]
        try await TestServer().test { client in
            let response = try await client.post(
                "/v1/completions",
                json: try Self.body([
                    "model": TestServer.modelName, "prompt": prompt, "max_tokens": 3, "temperature": 0,
                    "ignore_eos": true, "echo": true, "logprobs": 2,
                ]))
            #expect(response.status == .ok)
            let object = try response.object()
            #expect(object["object"] as? String == "text_completion")
            #expect(object["model"] as? String == TestServer.modelName)
            let choices = try #require(object["choices"] as? [[String: Any]])
            #expect(choices.count == 1)
            #expect(choices[0]["finish_reason"] as? String == "length")
            let logprobs = try #require(choices[0]["logprobs"] as? [String: Any])
            let tokens = try #require(logprobs["tokens"] as? [String])
            let values = try #require(logprobs["token_logprobs"] as? [Any])
            let top = try #require(logprobs["top_logprobs"] as? [Any])
            let offsets = try #require(logprobs["text_offset"] as? [Int])
            #expect(tokens.count == prompt.count + 3)
            #expect(values.count == tokens.count && top.count == tokens.count && offsets.count == tokens.count)
            #expect(values[0] is NSNull && top[0] is NSNull)
            for j in 1..<prompt.count {
                let value = try #require(values[j] as? Double)
                #expect(abs(value - reference.promptLogprobs[2][j - 1]) < 2e-3)
            }
            // Greedy: the chosen token is the most likely one, listed in the top map.
            for j in prompt.count..<tokens.count {
                let map = try #require(top[j] as? [String: Double])
                let chosen = try #require(values[j] as? Double)
                #expect(map[tokens[j]] != nil)
                #expect(map.values.allSatisfy { $0 <= chosen + 1e-6 })
            }
            let usage = try #require(object["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == prompt.count)
            #expect(usage["completion_tokens"] as? Int == 3)
            #expect(usage["total_tokens"] as? Int == prompt.count + 3)
            let details = try #require(usage["prompt_tokens_details"] as? [String: Any])
            #expect(details["cached_tokens"] is Int)
        }
    }

    @Test func streamWithUsageHasChoicesInEveryChunkButTheLast() async throws {
        try await TestServer().test { client in
            let response = try await client.post(
                "/v1/completions",
                json: try Self.body([
                    "prompt": [[5, 6, 7], [8, 9]], "max_tokens": 4, "n": 2, "ignore_eos": true, "stream": true,
                    "stream_options": ["include_usage": true], "seed": 7,
                ]))
            #expect(response.status == .ok)
            let events = try response.events()
            #expect(events.last == "[DONE]")
            let chunks = try events.dropLast().map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            let usageChunk = try #require(chunks.last)
            #expect((usageChunk["choices"] as? [Any])?.isEmpty == true)
            let usage = try #require(usageChunk["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == 5, "each prompt counted once")
            #expect(usage["completion_tokens"] as? Int == 16, "2 prompts x 2 choices x 4 tokens")
            var finished = Set<Int>()
            for chunk in chunks.dropLast() {
                let choices = try #require(chunk["choices"] as? [[String: Any]])
                #expect(!choices.isEmpty)
                #expect(chunk["usage"] is NSNull, "usage is null until the last chunk")
                #expect(chunk["object"] as? String == "text_completion")
                for choice in choices where choice["finish_reason"] is String {
                    finished.insert(try #require(choice["index"] as? Int))
                }
            }
            #expect(finished == [0, 1, 2, 3])
        }
    }

    @Test func streamWithoutUsageSendsNoUsageChunk() async throws {
        try await TestServer().test { client in
            let response = try await client.post(
                "/v1/completions",
                json: try Self.body(["prompt": [5, 6, 7], "max_tokens": 3, "ignore_eos": true, "stream": true]))
            let events = try response.events()
            for payload in events.dropLast() {
                let chunk = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
                #expect((chunk["choices"] as? [Any])?.isEmpty == false)
                #expect(chunk["usage"] == nil)
            }
        }
    }

    @Test func modelsAreListed() async throws {
        try await TestServer().test { client in
            let list = try await client.get("/v1/models").object()
            #expect(list["object"] as? String == "list")
            let data = try #require(list["data"] as? [[String: Any]])
            #expect(data.map { $0["id"] as? String } == [TestServer.modelName])
            #expect(data[0]["max_model_len"] as? Int == 4096)
            let one = try await client.get("/v1/models/\(TestServer.modelName)")
            #expect(one.status == .ok)
            #expect(try one.object()["id"] as? String == TestServer.modelName)
        }
    }

    @Test func infoRoutes() async throws {
        try await TestServer().test { client in
            #expect(try await client.get("/health").status == .ok)
            #expect(try await client.get("/health_generate").status == .ok)
            let info = try await client.get("/get_model_info").object()
            #expect(info["model_path"] as? String == TestServer.modelDirectory)
            #expect(info["is_generation"] as? Bool == true)
            let server = try await client.get("/get_server_info").object()
            let states = try #require(server["internal_states"] as? [[String: Any]])
            #expect(states.count == 1)
            #expect(server["version"] is String)
            #expect(try await client.post("/flush_cache", json: "").status == .ok)
        }
    }
}
