import ErnieCPU
import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

@testable import ErnieRuntime

/// transformers' greedy continuations for a fixture model (scripts/fixtures/models/make_model_fixtures.py).
private struct TransformersReference: Decodable {
    var prompts: [[Int]]
    var greedy: [[Int]]
}

/// The engine on the real CPU backend with a tiny ERNIE-4.5 fixture model: greedy output of every request is the
/// same alone, in a batch of 34 mixed requests (prompts of 1 to 2000 tokens, shared long prefixes, different
/// lengths), with the radix cache off, and in a KV pool so small that requests are retracted; and the fixture's
/// transformers continuations are reproduced in all of them.
@Suite(.serialized, .timeLimit(.minutes(10))) struct CPUEngineAcceptanceTests {
    static func directory(_ model: String) -> String { Fixtures.path("models/" + model) }

    private static func reference(_ model: String) throws -> TransformersReference {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory(model) + "/reference.json"))
        return try JSONDecoder().decode(TransformersReference.self, from: data)
    }

    /// 34 greedy requests: the 4 transformers prompts (24 tokens, EOS ignored, as the reference was made), 19
    /// random prompts of 1 to 2000 tokens, 11 prompts sharing a 1500- or a 900-token prefix (one duplicated).
    static func workload(model: String, vocab: Int) throws -> [GenerationRequest] {
        var rng = TestRandom(state: 2024)
        func random(_ n: Int) -> [Int] { (0..<n).map { _ in rng.next(vocab) } }
        var requests: [GenerationRequest] = []
        for (i, prompt) in try reference(model).prompts.enumerated() {
            requests.append(GenerationRequest(id: "hf\(i)", promptTokens: prompt, maxNewTokens: 24, ignoreEOS: true))
        }
        let lengths = [1, 1, 2, 3, 7, 16, 17, 33, 64, 100, 250, 511, 512, 513, 777, 1024, 1500, 1999, 2000]
        for (i, n) in lengths.enumerated() {
            requests.append(GenerationRequest(id: "r\(i)", promptTokens: random(n), maxNewTokens: 1 + rng.next(32)))
        }
        let a = random(1500)
        let b = random(900)
        for (i, k) in [1, 5, 40, 200, 499].enumerated() {
            requests.append(GenerationRequest(id: "a\(i)", promptTokens: a + random(k), maxNewTokens: 1 + rng.next(32)))
        }
        requests.append(
            GenerationRequest(
                id: "a-dup", promptTokens: requests[requests.count - 4].promptTokens,
                maxNewTokens: 32))
        for (i, k) in [0, 3, 17, 100, 600].enumerated() {
            requests.append(GenerationRequest(id: "b\(i)", promptTokens: b + random(k), maxNewTokens: 1 + rng.next(32)))
        }
        return requests
    }

    private static func engine(
        _ model: String, pages: Int, pageSize: Int = 16, radix: Bool = true, chunk: Int = 512,
        conservativeness: Double = 1
    ) throws -> Engine {
        let config = try ModelConfig(contentsOf: directory(model))
        var configuration = EngineConfiguration(contextLength: 4096)
        configuration.enableRadixCache = radix
        configuration.chunkedPrefillSize = chunk
        configuration.scheduleConservativeness = conservativeness
        let engine = Engine(
            executor: try ErnieForward.load(
                directory: directory(model), backend: CPUBackend(), kvPages: pages, pageSize: pageSize),
            textDecoders: FakeText.factory, eosTokenIDs: Set(config.eosTokenIDs), vocabLimit: config.vocabSize,
            configuration: configuration)
        return engine
    }

    /// Submits everything before the engine starts, so the batching is the same on every run.
    private static func runBatched(_ engine: Engine, _ requests: [GenerationRequest]) async throws -> [Collected] {
        var streams: [AsyncStream<GenerationOutput>] = []
        for request in requests { streams.append(try engine.submit(request)) }
        engine.start()
        var results: [Collected] = []
        for stream in streams { results.append(await collect(stream)) }
        return results
    }

    private static func expectSame(
        _ got: [Collected], _ want: [Collected], _ requests: [GenerationRequest], _ label: String
    ) {
        for (i, request) in requests.enumerated() {
            #expect(!got[i].wasAborted, "\(label): \(request.id) aborted: \(String(describing: got[i].finish))")
            #expect(got[i].tokens == want[i].tokens, "\(label): \(request.id) (\(request.promptTokens.count) tokens)")
            #expect(got[i].finish == want[i].finish, "\(label): \(request.id)")
        }
    }

    @Test(arguments: ["dense-f32", "moe-hub-f32"])
    func greedyOutputIsIndependentOfBatchingCachingAndRetraction(model: String) async throws {
        let vocab = try ModelConfig(contentsOf: Self.directory(model)).vocabSize
        let requests = try Self.workload(model: model, vocab: vocab)
        #expect(requests.count >= 32)
        let hf = try Self.reference(model)
        let clock = ContinuousClock()
        var timings: [String: Duration] = [:]

        // Alone: one request at a time, nothing cached.
        let start = clock.now
        let aloneEngine = try Self.engine(model, pages: 160, radix: false)
        aloneEngine.start()
        var alone: [Collected] = []
        for request in requests { alone.append(await collect(try aloneEngine.submit(request))) }
        await expectNoLeaks(aloneEngine)
        await aloneEngine.shutdown()
        timings["alone"] = clock.now - start
        for (i, greedy) in hf.greedy.enumerated() {
            #expect(alone[i].tokens == greedy, "transformers' greedy continuation of prompt \(i)")
        }
        // The model module's one-sequence loop (contiguous pages, no scheduler) agrees on every request.
        let config = try ModelConfig(contentsOf: Self.directory(model))
        let sequential = SequentialGenerator(
            executor: try ErnieForward.load(
                directory: Self.directory(model), backend: CPUBackend(), kvPages: 160, pageSize: 16))
        for (i, request) in requests.enumerated() {
            let output = try sequential.generate(
                prompt: request.promptTokens.map { Int32($0) }, sampling: .greedy, maxNewTokens: request.maxNewTokens,
                stopTokens: request.ignoreEOS ? [] : Set(config.eosTokenIDs.map { Int32($0) }))
            #expect(alone[i].tokens == output.tokens.map { Int($0) }, "\(request.id) alone vs SequentialGenerator")
        }
        timings["sequential"] = clock.now - start - (timings["alone"] ?? .zero)

        // Batched with the radix cache.
        var t = clock.now
        let batchedEngine = try Self.engine(model, pages: 1024)
        let batched = try await Self.runBatched(batchedEngine, requests)
        Self.expectSame(batched, alone, requests, "batched")
        await expectNoLeaks(batchedEngine)
        let batchedStats = batchedEngine.stats
        #expect(batchedStats.cacheHitRate > 0.2, "the shared prefixes come from the cache")
        #expect(batched.last?.cachedTokens ?? 0 > 0)
        await batchedEngine.shutdown()
        timings["batched"] = clock.now - t

        // Batched without the radix cache.
        t = clock.now
        let noCacheEngine = try Self.engine(model, pages: 1024, radix: false, chunk: 300)
        let noCache = try await Self.runBatched(noCacheEngine, requests)
        Self.expectSame(noCache, alone, requests, "radix off")
        #expect(noCache.allSatisfy { $0.cachedTokens == 0 })
        await expectNoLeaks(noCacheEngine)
        await noCacheEngine.shutdown()
        timings["radix off"] = clock.now - t

        // A pool of 2304 tokens: the 2000-token prompt plus its output fits alone, the batch does not.
        t = clock.now
        let tinyEngine = try Self.engine(model, pages: 144, conservativeness: 0)
        let tiny = try await Self.runBatched(tinyEngine, requests)
        Self.expectSame(tiny, alone, requests, "tiny pool")
        let tinyStats = tinyEngine.stats
        #expect(tinyStats.retractionsTotal > 0, "requests were retracted")
        await expectNoLeaks(tinyEngine)
        await tinyEngine.shutdown()
        timings["tiny pool"] = clock.now - t
        print(
            "CPU acceptance \(model): \(requests.count) requests, \(requests.reduce(0) { $0 + $1.promptTokens.count }) "
                + "prompt tokens; retractions \(tinyStats.retractionsTotal); cache hit rate "
                + "\(batchedStats.cacheHitRate); timings \(timings)")
    }
}
