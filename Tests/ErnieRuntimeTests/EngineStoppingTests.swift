import ErnieModel
import Foundation
import Testing

@testable import ErnieRuntime

/// Stop conditions and text, checked against the reference loop and a plain string search.
@Suite(.timeLimit(.minutes(1))) struct EngineStoppingTests {
    static let model = FakeModel()

    /// The first prompt (from a fixed pseudo-random sequence) whose greedy continuation satisfies `condition`.
    static func findPrompt(
        maxNew: Int = 30, _ condition: (FakeModel.Expected) -> Bool
    ) -> (prompt: [Int], expected: FakeModel.Expected) {
        var rng = TestRandom(state: 99)
        while true {
            let prompt = (0..<(5 + rng.next(30))).map { _ in 2 + rng.next(model.vocabSize - 2) }
            let expected = model.generate(prompt: prompt, maxNewTokens: maxNew)
            if condition(expected) { return (prompt, expected) }
        }
    }

    @Test func stopStringCutsTheTextAndEndsTheRequest() async throws {
        let (prompt, full) = Self.findPrompt { $0.stoppedByToken == nil && $0.tokens.count == 30 }
        // A stop string made of two consecutive generated pieces, found by a plain search over the full text.
        let stop = FakeText.text([full.tokens[8], full.tokens[9]])
        try #require(!stop.isEmpty)
        var text = ""
        var cut = full.tokens.count - 1
        var expectedText = ""
        for (i, token) in full.tokens.enumerated() {
            text += FakeText.text([token])
            if let range = text.range(of: stop) {
                cut = i
                expectedText = String(text[..<range.lowerBound])
                break
            }
        }
        let engine = makeFakeEngine()
        let request = GenerationRequest(
            id: "s", promptTokens: prompt, maxNewTokens: 30, stopStrings: ["never-there", stop])
        let got = await collect(try engine.submit(request))
        #expect(got.finish == .stopString(stop))
        #expect(got.tokens == Array(full.tokens[0...cut]))
        #expect(got.text == expectedText)
        #expect(!got.text.contains(stop))
        await expectNoLeaks(engine)
        await engine.shutdown()
    }

    @Test func heldBackTextIsReleasedWhenNoStopMatches() async throws {
        let (prompt, full) = Self.findPrompt { $0.stoppedByToken == nil && $0.tokens.count == 30 }
        let engine = makeFakeEngine()
        // "yz" and "S"/"ST" pieces start these stop strings, so text is held back and must come out at the end.
        let request = GenerationRequest(
            id: "h", promptTokens: prompt, maxNewTokens: 30, stopStrings: ["zzzz", "STOPSTOPSTOP", "ababab!"])
        let got = await collect(try engine.submit(request))
        #expect(got.finish == .length)
        #expect(got.tokens == full.tokens)
        #expect(got.text == FakeText.text(full.tokens))
        await engine.shutdown()
    }

    @Test func stopTokenIDsEndTheRequestWithoutText() async throws {
        let (prompt, full) = Self.findPrompt { e in
            e.stoppedByToken == nil && e.tokens.count == 30 && !Set(e.tokens[0..<3]).contains(e.tokens[3])
        }
        let engine = makeFakeEngine()
        let stopToken = full.tokens[3]
        let request = GenerationRequest(id: "t", promptTokens: prompt, maxNewTokens: 30, stopTokenIDs: [stopToken])
        let got = await collect(try engine.submit(request))
        #expect(got.finish == .stopToken(stopToken))
        #expect(got.tokens == Array(full.tokens[0...3]))
        #expect(got.text == FakeText.text(Array(full.tokens[0..<3])))
        #expect(got.completionTokens == 4)
        await engine.shutdown()
    }

    @Test func eosIgnoreEOSAndMinNewTokens() async throws {
        let (prompt, full) = Self.findPrompt { e in (e.stoppedByToken ?? 0) == 1 && e.tokens.count >= 3 }
        let k = full.tokens.count - 1  // index of the EOS
        let engine = makeFakeEngine()
        let plain = await collect(try engine.submit(GenerationRequest(id: "e", promptTokens: prompt, maxNewTokens: 30)))
        #expect(plain.finish == .stopToken(1))
        #expect(plain.tokens == full.tokens)

        let ignoring = GenerationRequest(id: "i", promptTokens: prompt, maxNewTokens: k + 6, ignoreEOS: true)
        let ignored = await collect(try engine.submit(ignoring))
        let wantIgnored = Self.model.generate(prompt: prompt, maxNewTokens: k + 6, ignoreEOS: true)
        #expect(ignored.tokens == wantIgnored.tokens)
        #expect(ignored.tokens.count == k + 6 && ignored.tokens[k] == 1)
        #expect(ignored.finish == .length)

        let minimum = GenerationRequest(id: "m", promptTokens: prompt, maxNewTokens: 30, minNewTokens: k + 3)
        let atLeast = await collect(try engine.submit(minimum))
        let wantMin = Self.model.generate(prompt: prompt, maxNewTokens: 30, minNewTokens: k + 3)
        #expect(atLeast.tokens == wantMin.tokens)
        #expect(!atLeast.tokens.prefix(k + 3).contains(1), "EOS is banned before min_new_tokens")
        #expect(atLeast.tokens.count >= k + 3)
        await expectNoLeaks(engine)
        await engine.shutdown()
    }

    @Test func maxNewTokensAndContextLength() async throws {
        let (prompt, full) = Self.findPrompt { $0.stoppedByToken == nil && $0.tokens.count == 30 }
        let engine = makeFakeEngine { $0.contextLength = prompt.count + 10 }
        let got = await collect(
            try engine.submit(GenerationRequest(id: "n", promptTokens: prompt, maxNewTokens: 10)))
        #expect(got.finish == .length)
        #expect(got.tokens == Array(full.tokens[0..<10]))
        #expect(throws: EngineRejection.self) {
            try engine.submit(GenerationRequest(id: "n2", promptTokens: prompt, maxNewTokens: 11))
        }
        await engine.shutdown()
    }

    @Test func explicitAndEngineAssignedSeeds() async throws {
        let prompt = [5, 6, 7, 8]
        let engine = makeFakeEngine { $0.randomSeed = 1000 }
        var sampling = SamplingParams(temperature: 1.5)
        let unseeded = GenerationRequest(
            id: "u", promptTokens: prompt, sampling: sampling, maxNewTokens: 20, ignoreEOS: true)
        let first = await collect(try engine.submit(unseeded))
        let second = await collect(try engine.submit(unseeded))
        sampling.seed = 1000
        #expect(
            first.tokens
                == Self.model.generate(prompt: prompt, maxNewTokens: 20, sampling: sampling, ignoreEOS: true).tokens)
        sampling.seed = 1001
        #expect(
            second.tokens
                == Self.model.generate(prompt: prompt, maxNewTokens: 20, sampling: sampling, ignoreEOS: true).tokens)
        #expect(first.tokens != second.tokens)
        var seeded = unseeded
        seeded.seed = 77
        let a = await collect(try engine.submit(seeded))
        let b = await collect(try engine.submit(seeded))
        #expect(a.tokens == b.tokens)
        await engine.shutdown()
    }
}
