import ErnieRuntime
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ErnieServer

@Suite(.serialized) struct AuthAndMetricsTests {
    static let generate = #"{"input_ids": [1, 2, 3], "sampling_params": {"max_new_tokens": 2}}"#

    @Test func apiKeyGuardsEveryRouteButHealthAndMetrics() async throws {
        try await TestServer(apiKey: "sk-test").test { client in
            try expectOpenAIError(try await client.post("/generate", json: Self.generate), status: .unauthorized)
            try expectOpenAIError(
                try await client.post("/generate", json: Self.generate, headers: [.authorization: "Bearer sk-wrong"]),
                status: .unauthorized, code: "invalid_api_key")
            try expectOpenAIError(
                try await client.post("/generate", json: Self.generate, headers: [.authorization: "sk-test"]),
                status: .unauthorized)
            try expectOpenAIError(try await client.get("/v1/models"), status: .unauthorized)
            try expectOpenAIError(try await client.get("/get_server_info"), status: .unauthorized)
            let ok = try await client.post(
                "/generate", json: Self.generate, headers: [.authorization: "Bearer sk-test"])
            #expect(ok.status == .ok)
            #expect(try await client.get("/v1/models", headers: [.authorization: "Bearer sk-test"]).status == .ok)
            #expect(try await client.get("/health").status == .ok)
            #expect(try await client.get("/metrics").status == .ok)
        }
    }

    /// Samples of the Prometheus text format: `name{label="v",...} value`, comments skipped.
    static func samples(_ text: String) -> [String: Double] {
        var result: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            #expect(parts.count == 2, "a sample line is 'name{labels} value': \(line)")
            guard parts.count == 2 else { continue }
            guard let value = Double(String(parts[1])) else {
                Issue.record("not a number in '\(line)'")
                continue
            }
            result[String(parts[0])] = value
        }
        return result
    }

    @Test func metricsCountRequestsTokensAndLatencies() async throws {
        try await TestServer().test { client in
            let requests = [(prompt: [1, 2, 3], tokens: 4), (prompt: [4, 5], tokens: 6), (prompt: [7], tokens: 1)]
            for request in requests {
                let body =
                    #"{"input_ids": \#(request.prompt), "#
                    + #""sampling_params": {"max_new_tokens": \#(request.tokens), "ignore_eos": true}}"#
                #expect(try await client.post("/generate", json: body).status == .ok)
            }
            let response = try await client.get("/metrics")
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = String(buffer: response.body)
            let samples = Self.samples(text)
            let label = #"{model_name="\#(TestServer.modelName)"}"#
            #expect(samples["ernie:num_requests_total" + label] == 3)
            #expect(samples["ernie:prompt_tokens_total" + label] == 6)
            #expect(samples["ernie:generation_tokens_total" + label] == 11)
            #expect(samples["ernie:e2e_request_latency_seconds_count" + label] == 3)
            #expect(samples["ernie:time_to_first_token_seconds_count" + label] == 3)
            #expect(
                samples["ernie:inter_token_latency_seconds_count" + label] == 8, "11 tokens, 3 of them first tokens")
            for gauge in [
                "num_running_reqs", "num_queue_reqs", "num_used_tokens", "token_usage", "cache_hit_rate",
                "gen_throughput",
            ] {
                #expect(samples["ernie:\(gauge)" + label] != nil, "gauge \(gauge)")
            }
            #expect(samples["ernie:num_running_reqs" + label] == 0)
            #expect(text.contains("# TYPE ernie:time_to_first_token_seconds histogram"))
            #expect(
                text.contains(
                    #"ernie:time_to_first_token_seconds_bucket{model_name="\#(TestServer.modelName)",le="+Inf"} 3"#))
        }
    }

    @Test func releasingARunAbortsItAndFreesItsPages() async throws {
        let test = try TestServer()
        let server = test.server
        let request = GenerationRequest(
            id: "abandoned", promptTokens: Array(1...40), sampling: .greedy, maxNewTokens: 3000, ignoreEOS: true)
        do {
            let run = try GenerationRun([request], context: server, arrival: .now)
            var seen = 0
            struct Stop: Error {}
            do {
                try await run.forEachOutput { _, _ in
                    seen += 1
                    if seen == 3 { throw Stop() }
                }
            } catch is Stop {}
            #expect(test.engine.stats.usedTokens > 0 || test.engine.stats.runningRequests > 0)
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let stats = test.engine.stats
            if stats.runningRequests == 0 && stats.usedTokens == 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(test.engine.stats.runningRequests == 0)
        #expect(test.engine.stats.usedTokens == 0)
        await test.engine.shutdown()
    }
}
