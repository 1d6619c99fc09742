import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ErnieServer

/// SGLang's `/generate` over the real engine and a fixture model, checked against transformers' outputs for the same
/// model (`reference.json`) and against SGLang's documented response shape.
@Suite(.serialized) struct GenerateRouteTests {
    static func body(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test func greedyOutputAndPromptLogprobsMatchTransformers() async throws {
        let reference = try FixtureReference.load()
        try await TestServer().test { client in
            for (i, prompt) in reference.prompts.enumerated() {
                let expected = reference.greedy[i]
                let response = try await client.post(
                    "/generate",
                    json: try Self.body([
                        "input_ids": prompt,
                        "sampling_params": ["max_new_tokens": expected.count, "temperature": 0, "ignore_eos": true],
                        "return_logprob": true, "logprob_start_len": 0,
                    ]))
                #expect(response.status == .ok)
                let object = try response.object()
                #expect(object["output_ids"] as? [Int] == expected, "prompt \(i)")
                #expect(object["text"] as? String == "")
                let meta = try #require(object["meta_info"] as? [String: Any])
                #expect(meta["prompt_tokens"] as? Int == prompt.count)
                #expect(meta["completion_tokens"] as? Int == expected.count)
                let finish = try #require(meta["finish_reason"] as? [String: Any])
                #expect(finish["type"] as? String == "length")
                let input = try #require(meta["input_token_logprobs"] as? [[Any]])
                #expect(input.count == prompt.count)
                // Entry j is [logprob of token j given the tokens before it, token id j, null]; the first is null.
                #expect(input.first?.first is NSNull)
                for (j, entry) in input.enumerated() {
                    #expect(entry.count == 3)
                    #expect(entry[1] as? Int == prompt[j])
                    #expect(entry[2] is NSNull)
                    if j > 0 {
                        let value = try #require(entry[0] as? Double)
                        #expect(abs(value - reference.promptLogprobs[i][j - 1]) < 2e-3, "prompt \(i) token \(j)")
                    }
                }
                let output = try #require(meta["output_token_logprobs"] as? [[Any]])
                #expect(output.map { $0[1] as? Int } == expected.map { $0 })
            }
        }
    }

    @Test func batchOfPromptsKeepsOrder() async throws {
        let reference = try FixtureReference.load()
        let prompts = Array(reference.prompts.prefix(3))
        let lengths = prompts.indices.map { min(reference.greedy[$0].count, 8) }
        try await TestServer().test { client in
            let response = try await client.post(
                "/generate",
                json: try Self.body([
                    "input_ids": prompts,
                    "sampling_params": lengths.map { ["max_new_tokens": $0, "temperature": 0, "ignore_eos": true] },
                ]))
            #expect(response.status == .ok)
            let list = try #require(try response.json() as? [[String: Any]])
            #expect(list.count == prompts.count)
            for (i, item) in list.enumerated() {
                #expect(item["output_ids"] as? [Int] == Array(reference.greedy[i].prefix(lengths[i])))
            }
        }
    }

    @Test func streamIsCumulativeAndEndsWithDone() async throws {
        let reference = try FixtureReference.load()
        let prompt = reference.prompts[1]
        let expected = Array(reference.greedy[1].prefix(10))
        try await TestServer().test { client in
            let response = try await client.post(
                "/generate",
                json: try Self.body([
                    "input_ids": prompt, "stream": true,
                    "sampling_params": ["max_new_tokens": expected.count, "temperature": 0, "ignore_eos": true],
                ]))
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            let events = try response.events()
            #expect(events.last == "[DONE]")
            let chunks = try events.dropLast().map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            #expect(!chunks.isEmpty)
            var previous: [Int] = []
            for (k, chunk) in chunks.enumerated() {
                let ids = try #require(chunk["output_ids"] as? [Int])
                #expect(Array(ids.prefix(previous.count)) == previous, "output_ids are cumulative")
                #expect(ids.count > previous.count || k == chunks.count - 1)
                let meta = try #require(chunk["meta_info"] as? [String: Any])
                #expect(meta["completion_tokens"] as? Int == ids.count)
                let isLast = k == chunks.count - 1
                #expect((meta["finish_reason"] is NSNull) != isLast, "finish_reason is set on the last chunk only")
                previous = ids
            }
            #expect(previous == expected)
        }
    }

    @Test func prefillOnlyRequest() async throws {
        let reference = try FixtureReference.load()
        let prompt = reference.prompts[2]
        try await TestServer().test { client in
            let response = try await client.post(
                "/generate",
                json: try Self.body([
                    "input_ids": prompt, "sampling_params": ["max_new_tokens": 0],
                    "return_logprob": true, "logprob_start_len": 0,
                ]))
            #expect(response.status == .ok)
            let object = try response.object()
            #expect(object["output_ids"] as? [Int] == [])
            let meta = try #require(object["meta_info"] as? [String: Any])
            #expect(meta["completion_tokens"] as? Int == 0)
            let input = try #require(meta["input_token_logprobs"] as? [[Any]])
            let values = input.dropFirst().compactMap { $0[0] as? Double }
            #expect(values.count == prompt.count - 1)
            for (value, expected) in zip(values, reference.promptLogprobs[2]) { #expect(abs(value - expected) < 2e-3) }
        }
    }

    @Test func seededSamplingIsReproducibleAndChoicesDiffer() async throws {
        let reference = try FixtureReference.load()
        let request = try Self.body([
            "input_ids": reference.prompts[1],
            "sampling_params": ["max_new_tokens": 12, "temperature": 1.0, "n": 3, "seed": 1234, "ignore_eos": true],
        ])
        try await TestServer().test { client in
            let first = try #require(try await client.post("/generate", json: request).json() as? [[String: Any]])
            let second = try #require(try await client.post("/generate", json: request).json() as? [[String: Any]])
            let a = first.map { $0["output_ids"] as? [Int] ?? [] }
            let b = second.map { $0["output_ids"] as? [Int] ?? [] }
            #expect(a.count == 3)
            #expect(a == b, "same seed, same tokens")
            #expect(Set(a).count > 1, "the choices of one request are sampled independently")
        }
    }

    @Test func stopTokenEndsGeneration() async throws {
        let reference = try FixtureReference.load()
        let greedy = reference.greedy[1]
        let stop = greedy[2]
        let cut = try #require(greedy.firstIndex(of: stop))
        try await TestServer().test { client in
            let response = try await client.post(
                "/generate",
                json: try Self.body([
                    "input_ids": reference.prompts[1],
                    "sampling_params": [
                        "max_new_tokens": greedy.count, "temperature": 0, "stop_token_ids": [stop], "ignore_eos": true,
                    ],
                ]))
            let object = try response.object()
            let ids = try #require(object["output_ids"] as? [Int])
            #expect(Array(greedy.prefix(cut + 1)).starts(with: ids) && ids.count >= cut)
            let meta = try #require(object["meta_info"] as? [String: Any])
            let finish = try #require(meta["finish_reason"] as? [String: Any])
            #expect(finish["type"] as? String == "stop")
            #expect(finish["matched"] as? Int == stop)
        }
    }
}
