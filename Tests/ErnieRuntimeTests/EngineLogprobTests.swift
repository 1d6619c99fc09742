import ErnieModel
import Testing

@testable import ErnieRuntime

/// Prompt and output log-probabilities against the reference model's `log_softmax`.
@Suite(.timeLimit(.minutes(1))) struct EngineLogprobTests {
    static let model = FakeModel()
    static let prompt = (0..<50).map { 2 + ($0 * 7) % 60 }

    static func checkInput(_ entries: [LogprobEntry?]?, start: Int, top: Int) {
        guard let entries else {
            Issue.record("no prompt log-probabilities")
            return
        }
        #expect(entries.count == prompt.count - start)
        for (offset, entry) in entries.enumerated() {
            let i = start + offset
            if i == 0 {
                #expect(entry == nil, "no log-probability for the first prompt token")
                continue
            }
            guard let entry else {
                Issue.record("missing prompt log-probability \(i)")
                continue
            }
            #expect(entry.token == prompt[i])
            #expect(abs(entry.logprob - model.promptLogprob(prompt, at: i)) < 1e-5, "position \(i)")
            #expect(entry.top.count == top)
            #expect(zip(entry.top, entry.top.dropFirst()).allSatisfy { $0.logprob >= $1.logprob })
        }
    }

    @Test(arguments: [0, 1, 20, 49])
    func promptLogprobsAcrossChunks(start: Int) async throws {
        let engine = makeFakeEngine { $0.chunkedPrefillSize = 16 }
        var request = GenerationRequest(id: "p", promptTokens: Self.prompt, maxNewTokens: 2, inputLogprobsStart: start)
        request.topLogprobs = 2
        let got = await collect(try engine.submit(request))
        Self.checkInput(got.inputLogprobs, start: start, top: 2)
        #expect(got.tokens == Self.model.generate(prompt: Self.prompt, maxNewTokens: 2).tokens)
        await engine.shutdown()
    }

    @Test func promptLogprobsAreComputedEvenWhenThePromptIsCached() async throws {
        let engine = makeFakeEngine(pageSize: 4)
        _ = await collect(try engine.submit(GenerationRequest(id: "warm", promptTokens: Self.prompt, maxNewTokens: 1)))
        let plain = await collect(
            try engine.submit(GenerationRequest(id: "c", promptTokens: Self.prompt, maxNewTokens: 1)))
        #expect(plain.cachedTokens == 48, "without logprobs the whole cached prefix is reused")
        let fromStart = await collect(
            try engine.submit(
                GenerationRequest(id: "a", promptTokens: Self.prompt, maxNewTokens: 1, inputLogprobsStart: 0)))
        #expect(fromStart.cachedTokens == 0)
        Self.checkInput(fromStart.inputLogprobs, start: 0, top: 0)
        let fromTwenty = await collect(
            try engine.submit(
                GenerationRequest(id: "b", promptTokens: Self.prompt, maxNewTokens: 1, inputLogprobsStart: 21)))
        #expect(fromTwenty.cachedTokens == 20, "reuse stops at position 20, whose logits score token 21")
        Self.checkInput(fromTwenty.inputLogprobs, start: 21, top: 0)
        await expectNoLeaks(engine)
        await engine.shutdown()
    }

    @Test func scoringOnlyWithZeroNewTokens() async throws {
        let engine = makeFakeEngine()
        let got = await collect(
            try engine.submit(
                GenerationRequest(id: "z", promptTokens: Self.prompt, maxNewTokens: 0, inputLogprobsStart: 0)))
        #expect(got.tokens.isEmpty)
        #expect(got.finish == .length)
        #expect(got.outputs == 1)
        Self.checkInput(got.inputLogprobs, start: 0, top: 0)
        let past = await collect(
            try engine.submit(
                GenerationRequest(id: "y", promptTokens: Self.prompt, maxNewTokens: 1, inputLogprobsStart: 80)))
        #expect(past.inputLogprobs?.isEmpty == true)
        await expectNoLeaks(engine)
        await engine.shutdown()
    }

    @Test func outputLogprobsWithTopAlternatives() async throws {
        let engine = makeFakeEngine()
        var request = GenerationRequest(id: "o", promptTokens: [3, 4, 5], maxNewTokens: 12, ignoreEOS: true)
        request.returnOutputLogprobs = true
        request.topLogprobs = 5
        let got = await collect(try engine.submit(request))
        let want = Self.model.generate(prompt: [3, 4, 5], maxNewTokens: 12, ignoreEOS: true)
        #expect(got.tokens == want.tokens)
        #expect(got.logprobs.count == 12)
        for (entry, value) in zip(got.logprobs, want.logprobs) {
            #expect(abs(entry.logprob - value) < 1e-5)
            #expect(entry.top.count == 5)
            #expect(entry.top.first?.token == Int32(entry.token), "greedy picks the most likely token")
        }
        #expect(got.inputLogprobs == nil)
        await engine.shutdown()
    }
}
