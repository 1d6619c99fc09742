import ErnieModel
import Testing

@testable import ErnieRuntime

/// Aborts, disconnects, admission limits, cache flushes, executor failures and shutdown.
@Suite(.timeLimit(.minutes(1))) struct EngineLifecycleTests {
    static let long = GenerationRequest(id: "long", promptTokens: Array(2..<40), maxNewTokens: 3000, ignoreEOS: true)

    /// An engine whose steps take 20 ms, so the long request (3,000 tokens: a minute) is still running when the test
    /// acts, even when a busy CI machine starves the test's task for seconds (with 2 ms steps, 6 s, the stats test
    /// once read the stats after the request had finished).
    static func slowEngine(
        log: FakeExecutorLog = FakeExecutorLog(), stepDelay: Duration = .milliseconds(20),
        configure: (inout EngineConfiguration) -> Void = { _ in }
    ) -> Engine {
        log.stepDelay = stepDelay
        return makeFakeEngine(pages: 2048, pageSize: 4, log: log, configure: configure)
    }

    @Test func abortByIDEndsTheStreamAndFreesPages() async throws {
        let engine = Self.slowEngine()
        let stream = try engine.submit(Self.long)
        var iterator = stream.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first?.newTokens.count == 1)
        #expect(engine.stats.usedTokens > 0)
        engine.abort(requestID: "long")
        var last: GenerationOutput?
        while let output = await iterator.next() { last = output }
        #expect(last?.finishReason == .abort("the request was aborted"))
        #expect((last?.completionTokens ?? 3000) < 3000)
        await expectNoLeaks(engine)
        #expect(engine.stats.usedTokens == 0)
        engine.abort(requestID: "long")  // already gone: no-op
        engine.abort(requestID: "never-existed")
        await engine.shutdown()
    }

    @Test func droppedStreamAbortsTheRequest() async throws {
        let engine = Self.slowEngine()
        let consumer = Task {
            let stream = try engine.submit(Self.long)
            var count = 0
            for await _ in stream {
                count += 1
                if count == 3 { break }
            }
            return count
        }
        #expect(try await consumer.value == 3)
        #expect(await eventually { engine.stats.usedTokens == 0 && engine.stats.runningRequests == 0 })
        await expectNoLeaks(engine)
        await engine.shutdown()
    }

    @Test func cancelledConsumerTaskAbortsTheRequest() async throws {
        let engine = Self.slowEngine()
        let stream = try engine.submit(Self.long)
        let consumer = Task {
            var count = 0
            for await _ in stream { count += 1 }
            return count
        }
        #expect(await eventually { engine.stats.generationTokensTotal > 5 })
        consumer.cancel()
        #expect(await consumer.value < 3000)
        #expect(await eventually { engine.stats.usedTokens == 0 && engine.stats.runningRequests == 0 })
        await engine.shutdown()
    }

    @Test func queueLimitRejectsWithQueueFull() async throws {
        let engine = makeFakeEngine(start: false) { $0.maxQueuedRequests = 2 }
        let a = try engine.submit(GenerationRequest(id: "a", promptTokens: [4, 5], maxNewTokens: 3))
        let b = try engine.submit(GenerationRequest(id: "b", promptTokens: [4, 6], maxNewTokens: 3))
        #expect(throws: EngineRejection.queueFull) {
            try engine.submit(GenerationRequest(id: "c", promptTokens: [4, 7], maxNewTokens: 3))
        }
        engine.start()
        #expect(await collect(a).finish != nil)
        #expect(await collect(b).finish != nil)
        #expect(await eventually { engine.stats.queuedRequests == 0 })
        let c = try engine.submit(GenerationRequest(id: "c", promptTokens: [4, 7], maxNewTokens: 3))
        #expect(await collect(c).finish != nil)
        await engine.shutdown()
    }

    @Test func invalidAndOversizedRequestsAreRefusedUpFront() async throws {
        let engine = makeFakeEngine(pages: 16, pageSize: 4) { $0.contextLength = 100 }
        func rejection(_ request: GenerationRequest) -> EngineRejection? {
            do {
                _ = try engine.submit(request)
                return nil
            } catch { return error }
        }
        #expect(rejection(GenerationRequest(id: "e", promptTokens: [])) == .invalid("the prompt is empty"))
        #expect(rejection(GenerationRequest(id: "v", promptTokens: [3, 64])) != nil, "id 64 is outside a vocab of 64")
        #expect(rejection(GenerationRequest(id: "n", promptTokens: [-1])) != nil)
        #expect(rejection(GenerationRequest(id: "m", promptTokens: [3], maxNewTokens: -1)) != nil)
        #expect(rejection(GenerationRequest(id: "l", promptTokens: [3], inputLogprobsStart: -2)) != nil)
        guard case .tooLong = rejection(GenerationRequest(id: "c", promptTokens: Array(repeating: 3, count: 100)))
        else {
            Issue.record("a prompt as long as the context must be refused")
            return
        }
        guard
            case .tooLong = rejection(
                GenerationRequest(id: "k", promptTokens: Array(repeating: 3, count: 30), maxNewTokens: 40))
        else {
            Issue.record("69 KV slots do not fit a pool of 64")
            return
        }
        #expect(
            rejection(GenerationRequest(id: "ok", promptTokens: Array(repeating: 3, count: 30), maxNewTokens: 35))
                == nil)
        await engine.shutdown()
    }

    @Test func flushIsRefusedWhileRequestsRun() async throws {
        let engine = Self.slowEngine()
        _ = await collect(try engine.submit(GenerationRequest(id: "w", promptTokens: Array(2..<30), maxNewTokens: 2)))
        #expect(engine.stats.cachedTokens > 0)
        let stream = try engine.submit(Self.long)
        #expect(await eventually { engine.stats.runningRequests == 1 })
        #expect(await engine.flushCache() == false)
        engine.abort(requestID: "long")
        _ = await collect(stream)
        #expect(await engine.flushCache() == true)
        #expect(await eventually { engine.stats.cachedTokens == 0 })
        await expectNoLeaks(engine)
        await engine.shutdown()
    }

    @Test func executorErrorsFailOnlyTheStepsRequests() async throws {
        let log = FakeExecutorLog()
        let engine = makeFakeEngine(log: log)
        log.failNextSteps(1)
        let failed = await collect(
            try engine.submit(GenerationRequest(id: "f", promptTokens: [5, 6, 7], maxNewTokens: 4)))
        guard case .abort(let message) = failed.finish else {
            Issue.record("expected an abort, got \(String(describing: failed.finish))")
            return
        }
        #expect(message.contains("injected failure"))
        let request = GenerationRequest(id: "g", promptTokens: [5, 6, 7], maxNewTokens: 4, ignoreEOS: true)
        let fine = await collect(try engine.submit(request))
        #expect(fine.tokens == FakeModel().generate(prompt: [5, 6, 7], maxNewTokens: 4, ignoreEOS: true).tokens)
        await expectNoLeaks(engine)
        await engine.shutdown()
    }

    @Test func executorErrorMidGenerationKeepsOtherRequestsAlive() async throws {
        let log = FakeExecutorLog()
        let engine = Self.slowEngine(log: log)
        let stream = try engine.submit(Self.long)
        #expect(await eventually { engine.stats.generationTokensTotal > 3 })
        log.failNextSteps(1)
        let result = await collect(stream)
        #expect(result.wasAborted)
        let after = await collect(try engine.submit(GenerationRequest(id: "h", promptTokens: [9], maxNewTokens: 3)))
        #expect(after.finish != nil && !after.wasAborted)
        await expectNoLeaks(engine)
        await engine.shutdown()
    }

    @Test func shutdownAbortsInFlightAndRefusesNewWork() async throws {
        let engine = Self.slowEngine()
        let stream = try engine.submit(Self.long)
        #expect(await eventually { engine.stats.generationTokensTotal > 0 })
        await engine.shutdown()
        let result = await collect(stream)
        #expect(result.finish == .abort("the engine is shutting down"))
        #expect(throws: EngineRejection.shuttingDown) {
            try engine.submit(GenerationRequest(id: "late", promptTokens: [3]))
        }
        #expect(await engine.flushCache() == false)
        await engine.shutdown()  // twice is fine
    }

    @Test func gracefulShutdownLetsShortRequestsFinish() async throws {
        let engine = Self.slowEngine()
        let stream = try engine.submit(
            GenerationRequest(id: "s", promptTokens: [3, 4], maxNewTokens: 20, ignoreEOS: true))
        await engine.shutdown(gracePeriod: .seconds(20))
        let result = await collect(stream)
        #expect(result.finish == .length)
        #expect(result.tokens.count == 20)
    }

    @Test func droppedEngineEndsItsStreams() async throws {
        func submitToUnstartedEngine() throws -> AsyncStream<GenerationOutput> {
            let engine = makeFakeEngine(start: false)
            return try engine.submit(GenerationRequest(id: "d", promptTokens: [3, 4], maxNewTokens: 5))
        }
        let result = await collect(try submitToUnstartedEngine())
        #expect(result.finish == .abort("the engine is shutting down"))
    }

    @Test func statsTrackUsageAndThroughput() async throws {
        let engine = Self.slowEngine()
        let stream = try engine.submit(Self.long)
        #expect(await eventually { engine.stats.generationTokensTotal > 20 })
        let running = engine.stats
        #expect(running.runningRequests == 1)
        #expect(running.usedTokens > 0 && running.tokenUsage > 0 && running.tokenUsage < 1)
        #expect(running.totalTokens == 2048 * 4)
        #expect(running.generationThroughput > 0)
        #expect(running.promptTokensTotal == 38)
        engine.abort(requestID: "long")
        _ = await collect(stream)
        await expectNoLeaks(engine)
        #expect(engine.stats.requestsTotal == 1)
        await engine.shutdown()
    }
}
