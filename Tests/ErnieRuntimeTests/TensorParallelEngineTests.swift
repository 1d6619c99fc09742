import ErnieCPU
import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

@testable import ErnieRuntime

/// The engine driving a CPU tensor-parallel executor (one scheduler, rank threads under it): a batch of mixed
/// requests gives transformers' greedy continuations and exactly what the single-device engine gives, and a
/// data-parallel front of two such engines does too.
@Suite(.serialized, .timeLimit(.minutes(10))) struct TensorParallelEngineTests {
    static let model = "moe-hub-f32"
    static var directory: String { Fixtures.path("models/" + model) }

    private struct Reference: Decodable {
        var prompts: [[Int]]
        var greedy: [[Int]]
    }

    static func engine(_ executor: sending any ModelExecutor) throws -> Engine {
        let config = try ModelConfig(contentsOf: directory)
        var configuration = EngineConfiguration(contextLength: 4096)
        configuration.chunkedPrefillSize = 64
        return Engine(
            executor: executor, textDecoders: FakeText.factory, eosTokenIDs: Set(config.eosTokenIDs),
            vocabLimit: config.vocabSize, configuration: configuration)
    }

    /// transformers' 4 prompts (24 greedy tokens, EOS ignored) and 10 random greedy requests with log-probabilities.
    static func workload() throws -> (requests: [GenerationRequest], greedy: [[Int]]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/reference.json"))
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        var requests = reference.prompts.enumerated().map { i, prompt in
            GenerationRequest(id: "hf\(i)", promptTokens: prompt, maxNewTokens: 24, ignoreEOS: true)
        }
        var rng = TestRandom(state: 99)
        for i in 0..<10 {
            requests.append(GenerationRequest(
                id: "r\(i)", promptTokens: (0..<(1 + rng.next(150))).map { _ in rng.next(300) },
                maxNewTokens: 1 + rng.next(16), returnOutputLogprobs: true, topLogprobs: 2))
        }
        return (requests, reference.greedy)
    }

    static func serve(_ engine: Engine, _ requests: [GenerationRequest]) async throws -> [Collected] {
        var streams: [AsyncStream<GenerationOutput>] = []
        for request in requests { streams.append(try engine.submit(request)) }
        engine.start()
        var out: [Collected] = []
        for stream in streams { out.append(await collect(stream)) }
        await engine.shutdown()
        return out
    }

    static func expectSame(_ got: [Collected], _ want: [Collected], greedy: [[Int]]) {
        for (i, expected) in greedy.enumerated() { #expect(got[i].tokens == expected, "transformers prompt \(i)") }
        for (g, w) in zip(got, want) {
            #expect(g.tokens == w.tokens)
            #expect(g.finish == w.finish)
            #expect(g.logprobs.map(\.token) == w.logprobs.map(\.token))
            for (a, b) in zip(g.logprobs, w.logprobs) {
                #expect(abs(a.logprob - b.logprob) <= 2e-5)
                #expect(a.top.map(\.token) == b.top.map(\.token))
            }
        }
    }

    @Test func tensorParallelEngineEqualsTheSingleDeviceEngine() async throws {
        let (requests, greedy) = try Self.workload()
        let single = try await Self.serve(
            try Self.engine(try ErnieForward.load(directory: Self.directory, backend: CPUBackend(), kvPages: 128,
                                                  pageSize: 16)), requests)
        let split = try await Self.serve(
            try Self.engine(try CPUTensorParallel.executor(
                directory: Self.directory, tpSize: 4, epSize: 2, kvPages: 128, pageSize: 16)), requests)
        Self.expectSame(split, single, greedy: greedy)
    }

    @Test func dataParallelFrontOfTensorParallelEnginesEqualsTheSingleDeviceEngine() async throws {
        let (requests, greedy) = try Self.workload()
        let single = try await Self.serve(
            try Self.engine(try ErnieForward.load(directory: Self.directory, backend: CPUBackend(), kvPages: 128,
                                                  pageSize: 16)), requests)
        let front = try DataParallelEngine(replicas: [
            try Self.engine(try CPUTensorParallel.executor(
                directory: Self.directory, tpSize: 2, kvPages: 128, pageSize: 16)),
            try Self.engine(try ErnieForward.load(directory: Self.directory, backend: CPUBackend(), kvPages: 128,
                                                  pageSize: 16)),
        ])
        var streams: [AsyncStream<GenerationOutput>] = []
        for request in requests { streams.append(try front.submit(request)) }
        front.start()
        var got: [Collected] = []
        for stream in streams { got.append(await collect(stream)) }
        #expect(front.assignedRequests == [7, 7])
        Self.expectSame(got, single, greedy: greedy)
        await front.shutdown()
    }
}
