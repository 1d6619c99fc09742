import ErnieModel
import Testing

@testable import ErnieRuntime

/// The data-parallel front over fake-model engines: requests spread by load, every output equal to the plain
/// reference loop (`FakeModel.generate`) and to one engine serving the same requests.
@Suite(.timeLimit(.minutes(2))) struct DataParallelEngineTests {
    static func front(_ count: Int, start: Bool = true, pages: Int = 1024) throws -> DataParallelEngine {
        let front = try DataParallelEngine(
            replicas: (0..<count).map { _ in makeFakeEngine(pages: pages, pageSize: 4, start: false) })
        if start { front.start() }
        return front
    }

    static func runAll(_ front: DataParallelEngine, _ requests: [GenerationRequest]) async throws -> [Collected] {
        var streams: [AsyncStream<GenerationOutput>] = []
        for request in requests { streams.append(try front.submit(request)) }
        return await withTaskGroup(of: (Int, Collected).self) { group in
            for (i, stream) in streams.enumerated() { group.addTask { (i, await collect(stream)) } }
            var results = [Collected](repeating: Collected(), count: requests.count)
            for await (i, c) in group { results[i] = c }
            return results
        }
    }

    @Test func aBurstIsSpreadEvenlyAndEveryOutputMatchesTheReference() async throws {
        let front = try Self.front(3, start: false)
        let requests = EngineBatchingTests.workload(seed: 11, count: 30)
        // Submitted before the engines start: each replica's queue grows, so the least loaded one alternates.
        let results = try await {
            var streams: [AsyncStream<GenerationOutput>] = []
            for request in requests { streams.append(try front.submit(request)) }
            #expect(front.assignedRequests == [10, 10, 10])
            #expect(front.stats.queuedRequests == 30)
            front.start()
            var out: [Collected] = []
            for stream in streams { out.append(await collect(stream)) }
            return out
        }()
        EngineBatchingTests.check(results, requests)
        let stats = front.stats
        #expect(stats.requestsTotal == 30)
        #expect(front.replicaStats.map(\.requestsTotal) == [10, 10, 10])
        #expect(stats.generationTokensTotal == results.reduce(0) { $0 + $1.tokens.count })
        #expect(stats.totalTokens == 3 * 1024 * 4)
        for replica in front.replicas { await expectNoLeaks(replica) }
        await front.shutdown()
    }

    @Test func unseededSamplingGivesWhatOneEngineGives() async throws {
        var requests = EngineBatchingTests.workload(seed: 5, count: 12)
        for i in requests.indices {
            requests[i].sampling = SamplingParams(temperature: 1.0)
            requests[i].seed = nil
        }
        let single = makeFakeEngine(pages: 1024, pageSize: 4)
        var expected: [Collected] = []
        for request in requests { expected.append(await collect(try single.submit(request))) }
        let front = try Self.front(2)
        let got = try await Self.runAll(front, requests)
        #expect(got.map(\.tokens) == expected.map(\.tokens))
        await single.shutdown()
        await front.shutdown()
    }

    @Test func requestsAvoidABusyReplica() async throws {
        let front = try Self.front(2, start: false)
        // Replica 0 is not running yet: the first request waits there, and the others find replica 1 less loaded.
        front.replicas[1].start()
        let waiting = try front.submit(GenerationRequest(id: "long", promptTokens: [5, 6, 7], maxNewTokens: 20))
        #expect(front.assignedRequests == [1, 0])
        for i in 0..<4 {
            let request = GenerationRequest(id: "short\(i)", promptTokens: [9, 10 + i], maxNewTokens: 3)
            let result = await collect(try front.submit(request))
            #expect(result.tokens == EngineBatchingTests.expected(request).tokens)
        }
        #expect(front.assignedRequests == [1, 4])
        // A cache flush needs every replica idle: replica 0 still has its request queued.
        #expect(await front.flushCache() == false)
        front.replicas[0].start()
        let long = await collect(waiting)
        #expect(long.tokens == EngineBatchingTests.expected(
            GenerationRequest(id: "long", promptTokens: [5, 6, 7], maxNewTokens: 20)).tokens)
        #expect(await eventually { front.stats.runningRequests == 0 && front.stats.queuedRequests == 0 })
        #expect(front.replicaStats.allSatisfy { $0.cachedTokens > 0 })
        #expect(await front.flushCache())
        #expect(front.replicaStats.allSatisfy { $0.cachedTokens == 0 })
        await front.shutdown()
    }

    @Test func abortsReachTheReplicaHoldingTheRequest() async throws {
        let front = try Self.front(3, start: false)
        var streams: [AsyncStream<GenerationOutput>] = []
        for i in 0..<3 {
            streams.append(try front.submit(GenerationRequest(id: "r\(i)", promptTokens: [4, 5], maxNewTokens: 5)))
        }
        front.abort(requestID: "r2")
        front.start()
        let results = await [collect(streams[0]), collect(streams[1]), collect(streams[2])]
        #expect(!results[0].wasAborted && !results[1].wasAborted)
        #expect(results[2].wasAborted)
        await front.shutdown()
        #expect(throws: EngineRejection.shuttingDown) {
            _ = try front.submit(GenerationRequest(id: "late", promptTokens: [1], maxNewTokens: 1))
        }
    }

    @Test func anEmptyFrontIsRefused() {
        #expect(throws: EngineRejection.self) { _ = try DataParallelEngine(replicas: []) }
    }

    @Test func statisticsAreSummedAndRatiosRecomputed() {
        var a = EngineStats()
        a.usedTokens = 10
        a.totalTokens = 100
        a.promptTokensTotal = 30
        a.cacheHitRate = 0.5
        a.runningRequests = 2
        var b = EngineStats()
        b.usedTokens = 50
        b.totalTokens = 100
        b.promptTokensTotal = 10
        b.cacheHitRate = 0.1
        b.queuedRequests = 3
        let sum = EngineStats.sum([a, b])
        #expect(sum.usedTokens == 60 && sum.totalTokens == 200)
        #expect(abs(sum.tokenUsage - 0.3) < 1e-12)
        #expect(abs(sum.cacheHitRate - 0.4) < 1e-12)  // (15 + 1) / 40
        #expect(sum.runningRequests == 2 && sum.queuedRequests == 3)
    }
}
