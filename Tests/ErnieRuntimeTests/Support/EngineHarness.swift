import ErnieModel
import Foundation
import Testing

@testable import ErnieRuntime

/// Everything a request's stream delivered.
struct Collected: Sendable {
    var tokens: [Int] = []
    var text = ""
    var logprobs: [LogprobEntry] = []
    var inputLogprobs: [LogprobEntry?]?
    var finish: FinishReason?
    var outputs = 0
    var cachedTokens = 0
    var promptTokens = 0
    var completionTokens = 0
    /// Outputs delivered after the one with a finish reason (must be 0).
    var outputsAfterFinish = 0

    var wasAborted: Bool {
        if case .abort = finish { return true }
        return false
    }
}

func collect(_ stream: AsyncStream<GenerationOutput>) async -> Collected {
    var c = Collected()
    for await output in stream {
        if c.finish != nil { c.outputsAfterFinish += 1 }
        c.outputs += 1
        c.tokens += output.newTokens
        c.text += output.text
        c.logprobs += output.outputLogprobs
        if let input = output.inputLogprobs { c.inputLogprobs = input }
        c.cachedTokens = output.cachedTokens
        c.promptTokens = output.promptTokens
        c.completionTokens = output.completionTokens
        if let reason = output.finishReason { c.finish = reason }
    }
    return c
}

/// A started engine over a `FakeExecutor`.
func makeFakeEngine(
    model: FakeModel = FakeModel(), pages: Int = 1024, pageSize: Int = 4, log: FakeExecutorLog = FakeExecutorLog(),
    start: Bool = true, configure: (inout EngineConfiguration) -> Void = { _ in }
) -> Engine {
    var configuration = EngineConfiguration(contextLength: 4096)
    configure(&configuration)
    let engine = Engine(
        executor: FakeExecutor(model: model, pages: pages, pageSize: pageSize, log: log),
        textDecoders: FakeText.factory, eosTokenIDs: [Int(model.eosToken)], vocabLimit: model.vocabSize,
        configuration: configuration)
    if start { engine.start() }
    return engine
}

/// Submits every request at once and collects all outputs (in request order).
func runAll(_ engine: Engine, _ requests: [GenerationRequest]) async throws -> [Collected] {
    var streams: [AsyncStream<GenerationOutput>] = []
    for request in requests { streams.append(try engine.submit(request)) }
    return await withTaskGroup(of: (Int, Collected).self) { group in
        for (i, stream) in streams.enumerated() {
            group.addTask { (i, await collect(stream)) }
        }
        var results = [Collected](repeating: Collected(), count: requests.count)
        for await (i, c) in group { results[i] = c }
        return results
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

/// After all requests ended: nothing is held by live requests and every page is free or cached.
func expectNoLeaks(_ engine: Engine, sourceLocation: SourceLocation = #_sourceLocation) async {
    let drained = await eventually { engine.stats.usedTokens == 0 && engine.stats.runningRequests == 0 }
    #expect(drained, "used tokens: \(engine.stats.usedTokens)", sourceLocation: sourceLocation)
    let problems = await engine.auditKV()
    #expect(problems.isEmpty, "\(problems)", sourceLocation: sourceLocation)
    let stats = engine.stats
    #expect(stats.cachedTokens <= stats.totalTokens, sourceLocation: sourceLocation)
}

/// A deterministic pseudo-random generator for test workloads.
struct TestRandom {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }
}
