import ErnieBench
import Foundation
import Testing

/// End to end against the stand-in server, whose delays are known: TTFT, TPOT, ITL and E2E within 5% of the truth,
/// token totals exact — native and OpenAI backends, one and several requests in flight, with and without a request
/// rate. Serialized: timing tests must not share the two cores with each other.
@Suite(.serialized) struct StandInServingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var backend: BenchBackend
        var prompts: Int
        var concurrency: Int?
        var rate: Double
        var tokensPerChunk = 1
        var cap: Int?
        var tokenizePrompt = false
        var testDescription: String {
            "\(backend.rawValue) ×\(prompts) concurrency \(concurrency.map(String.init) ?? "∞") rate \(rate)"
                + (tokensPerChunk > 1 ? " \(tokensPerChunk) tokens/chunk" : "") + (cap.map { " cap \($0)" } ?? "")
        }
    }

    static let cases: [Case] = [
        Case(backend: .sglang, prompts: 3, concurrency: 1, rate: .infinity),
        Case(backend: .sglang, prompts: 8, concurrency: 4, rate: 8, tokensPerChunk: 2, tokenizePrompt: true),
        Case(backend: .sglangOAI, prompts: 3, concurrency: 1, rate: .infinity, cap: 8),
        Case(backend: .vllm, prompts: 8, concurrency: nil, rate: 10),
        Case(backend: .sglangOAIChat, prompts: 3, concurrency: 1, rate: .infinity, cap: 8),
        Case(backend: .vllmChat, prompts: 8, concurrency: 8, rate: .infinity),
    ]

    static let inputLen = 30
    static let outputLen = 10

    func within5Percent(_ measured: Double, _ truth: Double, _ what: String) {
        print(
            "stand-in \(what): "
                + String(format: "measured %.2f ms, truth %.2f ms (%+.2f%%)", measured, truth, (measured / truth - 1) * 100))
        #expect(abs(measured - truth) <= 0.05 * truth, "\(what): measured \(measured) ms, truth \(truth) ms")
    }

    @Test(arguments: cases)
    func measuresKnownTiming(_ c: Case) async throws {
        var behavior = StandInBehavior()
        // Long enough that a scheduling stall of a few tens of milliseconds on a busy 2-core machine (both ends of
        // every stream run in this process) stays well inside 5%.
        behavior.ttft = 0.5
        behavior.chunkGap = 0.1
        behavior.tokensPerChunk = c.tokensPerChunk
        behavior.cap = c.cap
        let server = try await StandInServer.start(behavior)
        defer { Task { await server.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        var options = BenchServingOptions()
        options.backend = c.backend
        options.baseURL = server.baseURL
        options.datasetName = .random
        options.datasetPath = BenchFixtures.path("sharegpt_small.json")
        options.numPrompts = c.prompts
        options.randomInputLen = Self.inputLen
        options.randomOutputLen = Self.outputLen
        options.randomRangeRatio = 1.0
        options.maxConcurrency = c.concurrency
        options.requestRate = c.rate
        options.tokenizePrompt = c.tokenizePrompt
        options.extraRequestBody = #"{"top_k": 1}"#
        options.flushCache = true
        options.settleSeconds = 0.05
        options.disableTqdm = true
        options.outputFile = directory.appendingPathComponent("out.jsonl").path
        options.outputDetails = true
        options.plotPath = directory.appendingPathComponent("plot.svg").path
        let result = try await BenchServing(options: options, tokenizer: ByteTokenizer(), log: { _ in }).run()
        let m = result.metrics

        // Truth, from the server: it stamps (on the benchmark's clock, in this process) when each request arrived,
        // when each content chunk had been written and when `[DONE]` had been written; its schedule is the first
        // token `ttft` after arrival, then a chunk every `chunkGap`. Against those stamps, a stall of the whole
        // process (a busy machine runs both ends here) moves the truth with the measurement; what remains to check is
        // the client's own timing: request start to first content chunk, chunk to chunk, start to end of stream.
        let tokens = min(Self.outputLen, c.cap ?? .max)
        var ttfts: [Double] = [], e2es: [Double] = [], tpots: [Double] = [], itls: [Double] = []
        for (row, output) in zip(result.rows, result.outputs) {
            let timeline = try #require(server.timeline(of: row.prompt))
            let first = try #require(timeline.chunks.first?.time)
            let done = try #require(timeline.done)
            #expect(timeline.chunks.reduce(0) { $0 + $1.tokens } == tokens)
            let ttft = (first - output.startTime) * 1000
            let e2e = (done - output.startTime) * 1000
            ttfts.append(ttft)
            e2es.append(e2e)
            tpots.append((e2e - ttft) / Double(tokens - 1))
            for j in timeline.chunks.indices.dropFirst() {
                let gap = (timeline.chunks[j].time - timeline.chunks[j - 1].time) * 1000
                if c.backend.api == .native {
                    let n = timeline.chunks[j].tokens
                    itls += Array(repeating: gap / Double(n), count: n)
                } else {
                    itls.append(gap)
                }
            }
            // The server kept to its schedule (a sanity check of the stand-in, loose: it shares a busy machine).
            #expect(abs(first - timeline.arrival - behavior.ttft) < 0.25 * behavior.ttft)
        }
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        func median(_ x: [Double]) -> Double {
            let s = x.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }

        #expect(result.outputs.allSatisfy { $0.success }, "\(result.outputs.map { $0.error })")
        #expect(m.completed == c.prompts)
        #expect(m.totalInput == c.prompts * Self.inputLen)
        #expect(m.totalOutput == c.prompts * tokens)
        #expect(m.totalOutputRetokenized == c.prompts * tokens)
        #expect(m.itls.count == itls.count)
        #expect(m.itls.count == c.prompts * (c.backend.api == .native ? tokens - c.tokensPerChunk : tokens - 1))
        within5Percent(m.meanTTFTms, mean(ttfts), "mean TTFT")
        within5Percent(m.medianTTFTms, median(ttfts), "median TTFT")
        within5Percent(m.meanTPOTms, mean(tpots), "mean TPOT")
        within5Percent(m.medianTPOTms, median(tpots), "median TPOT")
        within5Percent(m.meanITLms, mean(itls), "mean ITL")
        within5Percent(m.medianITLms, median(itls), "median ITL")
        within5Percent(m.meanE2Ems, mean(e2es), "mean E2E")
        within5Percent(m.medianE2Ems, median(e2es), "median E2E")
        if let limit = c.concurrency { #expect(m.concurrency <= Double(limit) + 0.01) }

        // What the server received: warm-up plus every request, SGLang's payload keys, the extra body merged in.
        let received = server.requests(c.backend.path)
        #expect(received.count == c.prompts + 1)
        #expect(received.allSatisfy { $0["top_k"] == .int(1) })
        switch c.backend.api {
        case .native:
            #expect(received.allSatisfy { $0["sampling_params"]?["ignore_eos"] == .bool(true) })
            if c.tokenizePrompt {
                #expect(received.allSatisfy { $0["input_ids"]?.arrayValue?.count == Self.inputLen })
            }
        case .completions:
            #expect(received.allSatisfy { $0["ignore_eos"] == .bool(true) && $0["max_tokens"] == .int(Self.outputLen) })
            #expect(received.allSatisfy { $0["model"] == .string("stand-in-model") })
        case .chat:
            #expect(received.allSatisfy { $0["max_completion_tokens"] == .int(Self.outputLen) })
        }
        #expect(server.flushCount == 1)

        // The result line and the plot.
        let line = try String(contentsOfFile: options.outputFile ?? "", encoding: .utf8)
        let record = try JSONParser.parse(line.trimmingCharacters(in: .newlines))
        #expect(record["completed"] == .int(c.prompts) && record["backend"] == .string(c.backend.rawValue))
        #expect(record["total_output_tokens"] == .int(c.prompts * tokens))
        #expect(record["server_info"]?["model_path"] == .string("stand-in"))
        #expect(record["itls"]?.arrayValue?.count == c.prompts)
        #expect(FileManager.default.fileExists(atPath: options.plotPath ?? ""))
        #expect(result.report.contains("Successful requests:                     \(c.prompts)"))
    }

    @Test func acceptLengthIsReadAndPrinted() async throws {
        var behavior = StandInBehavior()
        behavior.ttft = 0.01
        behavior.chunkGap = 0.005
        behavior.acceptLength = 2.75
        let server = try await StandInServer.start(behavior)
        defer { Task { await server.stop() } }
        var options = BenchServingOptions()
        options.backend = .sglang
        options.baseURL = server.baseURL
        options.datasetName = .randomIDs
        options.numPrompts = 2
        options.randomInputLen = 5
        options.randomOutputLen = 4
        options.settleSeconds = 0
        options.disableTqdm = true
        options.outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: options.outputFile ?? "") }
        let result = try await BenchServing(options: options, tokenizer: ByteTokenizer(), log: { _ in }).run()
        #expect(result.acceptLength == 2.75)
        #expect(result.report.contains("Accept length:                           2.75"))
        #expect(result.record["accept_length"] == .double(2.75))
    }

    @Test func unreachableServerFailsWithAClearError() async throws {
        var options = BenchServingOptions()
        options.baseURL = "http://127.0.0.1:9"
        options.datasetName = .randomIDs
        options.numPrompts = 1
        options.disableTqdm = true
        await #expect(throws: BenchError.self) {
            _ = try await BenchServing(options: options, tokenizer: ByteTokenizer(), log: { _ in }).run()
        }
    }
}
