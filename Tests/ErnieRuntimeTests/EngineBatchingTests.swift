import ErnieModel
import Testing

@testable import ErnieRuntime

/// The engine against the fake model: whatever the batching, caching, chunking or retraction, every request must
/// produce exactly what the plain reference loop (`FakeModel.generate`) produces.
@Suite(.timeLimit(.minutes(2))) struct EngineBatchingTests {
    static let model = FakeModel()

    struct Setup: Sendable, CustomStringConvertible {
        var name: String
        var pages: Int
        var pageSize: Int
        var chunk: Int
        var radix: Bool
        var conservativeness: Double = 1
        var maxRunning = 256
        var expectRetractions = false
        /// Workload shape: longest prompt and most new tokens.
        var maxPrompt = 600
        var maxNew = 40
        var description: String { name }
    }

    static let setups: [Setup] = [
        Setup(name: "roomy pool, radix cache", pages: 2048, pageSize: 4, chunk: 256, radix: true),
        Setup(name: "radix cache off", pages: 2048, pageSize: 4, chunk: 256, radix: false),
        Setup(name: "page size 1, no chunking", pages: 8192, pageSize: 1, chunk: 0, radix: true),
        Setup(
            name: "page size 16, small chunks, 8 running", pages: 512, pageSize: 16, chunk: 48, radix: true,
            maxRunning: 8),
        Setup(
            name: "tiny pool forcing retraction", pages: 110, pageSize: 4, chunk: 64, radix: true, conservativeness: 0,
            expectRetractions: true, maxPrompt: 300, maxNew: 120),
        Setup(
            name: "tiny pool, radix off", pages: 110, pageSize: 4, chunk: 64, radix: false, conservativeness: 0,
            expectRetractions: true, maxPrompt: 300, maxNew: 120),
        Setup(
            name: "tiny pool, default conservativeness", pages: 110, pageSize: 4, chunk: 64, radix: true,
            maxPrompt: 300, maxNew: 120),
    ]

    /// 40 requests: prompts of 1 to 600 tokens, a third sharing one of three long prefixes, greedy and seeded
    /// sampling, 0 to 40 new tokens, some ignoring EOS, some with output log-probabilities.
    static func workload(
        seed: UInt64 = 42, count: Int = 40, maxPrompt: Int = 600, maxNew: Int = 40
    ) -> [GenerationRequest] {
        var rng = TestRandom(state: seed)
        let vocab = model.vocabSize
        let prefixes = (0..<3).map { _ in
            (0..<(maxPrompt / 2 + rng.next(maxPrompt / 3))).map { _ in 2 + rng.next(vocab - 2) }
        }
        return (0..<count).map { i in
            var prompt: [Int]
            switch i % 6 {
            case 0, 3: prompt = prefixes[rng.next(3)] + (0..<(1 + rng.next(40))).map { _ in 2 + rng.next(vocab - 2) }
            case 1: prompt = [2 + rng.next(vocab - 2)]
            default: prompt = (0..<(1 + rng.next(maxPrompt))).map { _ in rng.next(vocab) }
            }
            var request = GenerationRequest(id: "r\(i)", promptTokens: prompt, maxNewTokens: rng.next(maxNew + 1))
            if i % 3 == 2 {
                request.sampling = SamplingParams(temperature: 0.9)
                request.seed = UInt64(rng.next(1_000_000))
            }
            request.ignoreEOS = i % 5 == 4
            request.returnOutputLogprobs = i % 4 == 1
            request.topLogprobs = i % 8 == 1 ? 3 : 0
            return request
        }
    }

    static func expected(_ request: GenerationRequest) -> FakeModel.Expected {
        var sampling = request.sampling
        sampling.seed = request.seed ?? 0
        return model.generate(
            prompt: request.promptTokens, maxNewTokens: request.maxNewTokens, sampling: sampling,
            ignoreEOS: request.ignoreEOS)
    }

    static func check(_ results: [Collected], _ requests: [GenerationRequest]) {
        for (request, got) in zip(requests, results) {
            let want = expected(request)
            #expect(got.tokens == want.tokens, "\(request.id) (prompt \(request.promptTokens.count))")
            #expect(got.outputsAfterFinish == 0)
            if let stop = want.stoppedByToken {
                #expect(got.finish == .stopToken(stop), "\(request.id)")
                #expect(got.text == FakeText.text(Array(want.tokens.dropLast())))
            } else {
                #expect(got.finish == .length, "\(request.id)")
                #expect(got.text == FakeText.text(want.tokens))
            }
            #expect(got.completionTokens == want.tokens.count)
            #expect(got.promptTokens == request.promptTokens.count)
            if request.returnOutputLogprobs {
                #expect(got.logprobs.map(\.token) == want.tokens)
                for (entry, value) in zip(got.logprobs, want.logprobs) {
                    #expect(abs(entry.logprob - value) < 1e-5)
                    #expect(entry.top.count == request.topLogprobs)
                }
            } else {
                #expect(got.logprobs.isEmpty)
            }
        }
    }

    @Test(arguments: setups)
    func mixedBatchMatchesReference(_ setup: Setup) async throws {
        let log = FakeExecutorLog()
        let engine = makeFakeEngine(pages: setup.pages, pageSize: setup.pageSize, log: log) {
            $0.chunkedPrefillSize = setup.chunk
            $0.enableRadixCache = setup.radix
            $0.scheduleConservativeness = setup.conservativeness
            $0.maxRunningRequests = setup.maxRunning
        }
        let requests = Self.workload(maxPrompt: setup.maxPrompt, maxNew: setup.maxNew)
        let results = try await runAll(engine, requests)
        Self.check(results, requests)
        await expectNoLeaks(engine)
        let stats = engine.stats
        #expect(stats.generationTokensTotal == results.reduce(0) { $0 + $1.tokens.count })
        #expect(stats.requestsTotal == requests.count)
        if setup.expectRetractions {
            #expect(stats.retractionsTotal > 0, "the pool is small enough to force retraction")
        }
        if setup.radix {
            #expect(stats.cacheHitRate > 0, "shared prefixes are reused")
        } else {
            #expect(stats.cacheHitRate == 0 && stats.cachedTokens == 0)
        }
        let steps = log.steps
        if setup.chunk > 0 {
            for step in steps {
                let prefill = step.sequenceTokens.filter { $0 > 1 }.reduce(0, +)
                #expect(prefill <= setup.chunk)
            }
        }
        #expect(steps.map(\.sequenceCount).max() ?? 0 <= setup.maxRunning)
        #expect(
            steps.contains { $0.sequenceTokens.contains(1) && $0.sequenceTokens.contains { $0 > 1 } },
            "decodes and prefill chunks share steps")
        await engine.shutdown()
    }

    @Test func requestsAloneMatchTheReference() async throws {
        let engine = makeFakeEngine(pages: 1024, pageSize: 4)
        let requests = Array(Self.workload(seed: 7, count: 12))
        var results: [Collected] = []
        for request in requests { results.append(await collect(try engine.submit(request))) }
        Self.check(results, requests)
        await expectNoLeaks(engine)
        await engine.shutdown()
    }

    @Test func sharedPrefixIsServedFromTheCache() async throws {
        let engine = makeFakeEngine(pages: 1024, pageSize: 4)
        let prefix = (0..<203).map { 2 + $0 % 50 }
        let first = await collect(try engine.submit(GenerationRequest(id: "a", promptTokens: prefix, maxNewTokens: 3)))
        #expect(first.cachedTokens == 0)
        let request = GenerationRequest(id: "b", promptTokens: prefix + [9, 9, 9], maxNewTokens: 5)
        let second = await collect(try engine.submit(request))
        #expect(second.cachedTokens == 200, "50 whole pages of the shared prefix")
        #expect(second.tokens == Self.expected(request).tokens)
        #expect(engine.stats.cachedTokens > 0)
        await expectNoLeaks(engine)
        await engine.shutdown()
    }
}
