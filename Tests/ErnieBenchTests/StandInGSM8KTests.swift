import ErnieBench
import Foundation
import Testing

/// `bench-gsm8k` end to end against the stand-in server with canned answers of known correctness.
@Suite(.serialized) struct StandInGSM8KTests {
    @Test(arguments: ["srt", "sglang-oai"])
    func scoresCannedAnswers(_ backend: String) async throws {
        let reference = try BenchFixtures.json("gsm8k_reference.json")
        let score = try #require(reference["score"] as? [String: Any])
        let outputs = try #require(score["outputs"] as? [String])
        let problems = try GSM8KData.load(path: BenchFixtures.path("gsm8k_head.jsonl"))
        var behavior = StandInBehavior()
        for (problem, output) in zip(problems, outputs) { behavior.gsm8kAnswers[problem.question] = output }
        let server = try await StandInServer.start(behavior)
        defer { Task { await server.stop() } }
        let resultFile = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: resultFile) }

        var options = GSM8KOptions()
        options.numShots = 2
        options.numQuestions = 8
        options.parallel = 3
        options.host = "127.0.0.1"
        options.port = server.port
        options.backend = backend
        options.dataPath = BenchFixtures.path("gsm8k_head.jsonl")
        options.resultFile = resultFile
        options.disableTqdm = true
        let result = try await GSM8KBench(options: options, log: { _ in }).run()

        #expect(result.score.accuracy == score["accuracy"] as? Double)
        #expect(result.score.invalid == score["invalid"] as? Double)
        #expect(result.outputTokens == outputs.reduce(0) { $0 + $1.utf8.count })
        #expect(result.summary.hasPrefix("Accuracy: \(try #require(score["accuracy_text"] as? String))\nInvalid: "))
        #expect(result.summary.contains("Output throughput: ") && result.summary.hasSuffix(" token/s"))

        // The prompts the server saw are Python's, character for character.
        let expected = try #require((reference["prompts_2"] as? [String: Any])?["prompts"] as? [String])
        let native = backend == "srt"
        let received = server.requests(native ? "/generate" : "/v1/completions").filter {
            (native ? $0["sampling_params"]?["max_new_tokens"] : $0["max_tokens"]) == .int(512)
        }
        #expect(received.count == 8)
        let sent = Set(received.compactMap { (native ? $0["text"] : $0["prompt"])?.stringValue })
        for prompt in expected { #expect(sent.contains(prompt)) }
        let stops: JSONValue = .array(["Question", "Assistant:", "<|separator|>"].map { .string($0) })
        #expect(received.allSatisfy { (native ? $0["sampling_params"]?["stop"] : $0["stop"]) == stops })
        #expect(received.allSatisfy { (native ? $0["sampling_params"]?["temperature"] : $0["temperature"]) == .int(0) })
        if native {
            // The frontend's prefix prefill (max_new_tokens 0) of the shot block.
            let prefill = server.requests("/generate").filter { $0["sampling_params"]?["max_new_tokens"] == .int(0) }
            #expect(prefill.count == 1)
        }

        let line = try String(contentsOfFile: resultFile, encoding: .utf8)
        let record = try JSONParser.parse(line.trimmingCharacters(in: .newlines))
        #expect(record["task"] == .string("gsm8k") && record["backend"] == .string(backend))
        #expect(record["accuracy"] == .double(0.375) && record["num_requests"] == .int(8))
        #expect(record["other"]?["parallel"] == .int(3))
    }

    @Test func missingDataWithoutNetworkGivesAClearError() async throws {
        var options = GSM8KOptions()
        options.dataPath = "/nonexistent/test.jsonl"
        options.port = 9
        options.disableTqdm = true
        // No traffic leaves the machine: the "download" goes to a closed local port.
        options.downloadURL = "http://127.0.0.1:9/test.jsonl"
        options.downloadCache = "/nonexistent/cache/test.jsonl"
        let error = await #expect(throws: BenchError.self) { _ = try await GSM8KBench(options: options, log: { _ in }).run() }
        #expect(error?.message.contains("--data-path") == true)
    }
}
