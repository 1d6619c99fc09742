import Testing

@testable import ErnieBench

@Suite struct OptionsTests {
    @Test func defaultsAreSGLangs() throws {
        let o = BenchServingOptions()
        #expect(o.backend == .sglang && o.datasetName == .sharegpt && o.numPrompts == 1000 && o.seed == 1)
        #expect(o.randomInputLen == 1024 && o.randomOutputLen == 1024 && o.randomRangeRatio == 0.0)
        #expect(o.requestRate == .infinity && o.maxConcurrency == nil && o.warmupRequests == 1)
        #expect(o.resolvedBaseURL == "http://0.0.0.0:30000")
        var vllm = o
        vllm.backend = .vllm
        #expect(vllm.resolvedBaseURL == "http://0.0.0.0:8000")
        var random = o
        random.datasetName = .random
        #expect(random.defaultOutputFile(monthDay: "1129") == "sglang_1129_1000_1024_1024.jsonl")
        #expect(o.defaultOutputFile(monthDay: "0102") == "sglang_0102_1000_sharegpt.jsonl")
        let g = GSM8KOptions()
        #expect(g.numShots == 5 && g.numQuestions == 200 && g.parallel == 64 && g.baseURL == "http://127.0.0.1:30000")
    }

    @Test func extraBodyIsParsed() throws {
        var o = BenchServingOptions()
        o.extraRequestBody = #"{"top_p": 0.9, "stop": ["x"]}"#
        let members = try o.validatedExtraBody()
        #expect(members.map(\.0) == ["top_p", "stop"])
    }

    static let invalid: [(String, @Sendable (inout BenchServingOptions) -> Void)] = [
        ("tokenize with chat", { $0.tokenizePrompt = true; $0.backend = .sglangOAIChat; $0.datasetName = .random }),
        ("tokenize with sharegpt", { $0.tokenizePrompt = true }),
        ("extra body not an object", { $0.extraRequestBody = "[1, 2]" }),
        ("extra body not JSON", { $0.extraRequestBody = "{top_p: 1}" }),
        ("zero prompts", { $0.numPrompts = 0 }),
        ("zero concurrency", { $0.maxConcurrency = 0 }),
        ("negative rate", { $0.requestRate = -1 }),
        ("NaN rate", { $0.requestRate = .nan }),
        ("NaN ratio", { $0.randomRangeRatio = .nan }),
        ("zero groups", { $0.sharedPrefix.numGroups = 0 }),
        ("seed too large", { $0.seed = 1 << 33 }),
        ("negative warmups", { $0.warmupRequests = -1 }),
        ("zero input length", { $0.randomInputLen = 0 }),
    ]

    @Test(arguments: invalid.indices)
    func badOptionsGiveClearErrors(_ index: Int) {
        var o = BenchServingOptions()
        Self.invalid[index].1(&o)
        #expect(throws: BenchError.self, "\(Self.invalid[index].0)") { _ = try o.validatedExtraBody() }
    }

    @Test func ratioAboveOneIsAnError() {
        var rng = SGLangRandom(seed: 1)
        #expect(throws: BenchError.self) { _ = try Datasets.randomLengths(fullLen: 8, rangeRatio: 2, count: 3, rng: &rng) }
        #expect(throws: BenchError.self) {
            _ = try Datasets.randomLengths(fullLen: 8, rangeRatio: .infinity, count: 3, rng: &rng)
        }
    }
}
