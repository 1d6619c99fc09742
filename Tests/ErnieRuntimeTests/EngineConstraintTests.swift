import ErnieModel
import Foundation
import Synchronization
import Testing

@testable import ErnieRuntime

/// A constraint whose only sentence is `script` (a literal grammar, as structured output would build).
struct ScriptConstraint: GenerationConstraint {
    let script: [Int]
    let vocabulary: Int

    func makeMatcher(skipSpecialTokens: Bool) -> any ConstraintMatcher {
        Matcher(script: script, vocabulary: vocabulary)
    }

    struct Matcher: ConstraintMatcher {
        let script: [Int]
        let vocabulary: Int
        var position = 0

        func allowedTokens() throws -> TokenBitmask {
            var mask = TokenBitmask(count: vocabulary)
            if position < script.count { mask.insert(script[position]) }
            return mask
        }

        var isAccepting: Bool { position == script.count }
        var canContinue: Bool { position < script.count }

        mutating func accept(_ token: Int) throws -> Bool {
            guard position < script.count, script[position] == token else { return false }
            position += 1
            return true
        }
    }
}

/// Allows only even tokens, forever; the output may end anywhere.
struct EvenConstraint: GenerationConstraint {
    let vocabulary: Int

    func makeMatcher(skipSpecialTokens: Bool) -> any ConstraintMatcher { Matcher(vocabulary: vocabulary) }

    struct Matcher: ConstraintMatcher {
        let vocabulary: Int
        func allowedTokens() throws -> TokenBitmask {
            var mask = TokenBitmask(count: vocabulary)
            for id in stride(from: 0, to: vocabulary, by: 2) { mask.insert(id) }
            return mask
        }
        var isAccepting: Bool { true }
        var canContinue: Bool { true }
        mutating func accept(_ token: Int) throws -> Bool { token % 2 == 0 }
    }
}

/// A constraint whose matcher fails when asked for a mask.
struct FailingConstraint: GenerationConstraint {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "the grammar broke" }
    }

    func makeMatcher(skipSpecialTokens: Bool) -> any ConstraintMatcher { Matcher() }

    struct Matcher: ConstraintMatcher {
        func allowedTokens() throws -> TokenBitmask { throw Failure() }
        var isAccepting: Bool { false }
        var canContinue: Bool { true }
        mutating func accept(_ token: Int) throws -> Bool { false }
    }
}

@Suite(.timeLimit(.minutes(1))) struct EngineConstraintTests {
    static let model = FakeModel()

    @Test(arguments: [SamplingParams.greedy, SamplingParams(temperature: 1.5, seed: 3)])
    func theOutputIsTheScriptThenEOS(_ sampling: SamplingParams) async throws {
        let engine = makeFakeEngine()
        let script = [7, 7, 30, 2, 19]
        let constraint = ScriptConstraint(script: script, vocabulary: Self.model.vocabSize)
        let eos = Int(Self.model.eosToken)
        let plain = GenerationRequest(
            id: "a", promptTokens: [4, 5, 6], sampling: sampling, maxNewTokens: 20, constraint: constraint)
        var ignoring = plain
        ignoring.id = "b"
        ignoring.ignoreEOS = true
        var minimum = plain
        minimum.id = "c"
        minimum.minNewTokens = 10
        for request in [plain, ignoring, minimum] {
            let got = await collect(try engine.submit(request))
            #expect(got.tokens == script + [eos], "\(request.id)")
            #expect(got.finish == .stopToken(eos), "\(request.id): a complete constraint ends on EOS")
            #expect(got.text == FakeText.text(script))
        }
        await expectNoLeaks(engine)
        await engine.shutdown()
    }

    @Test func everyTokenIsAllowedAndOthersAreUnaffected() async throws {
        let engine = makeFakeEngine()
        let sampling = SamplingParams(temperature: 1.2, seed: 9)
        var requests: [GenerationRequest] = []
        for i in 0..<6 {
            requests.append(
                GenerationRequest(
                    id: "e\(i)", promptTokens: [3 + i, 9, 11], sampling: sampling, maxNewTokens: 25, seed: 9,
                    constraint: i % 2 == 0 ? EvenConstraint(vocabulary: Self.model.vocabSize) : nil))
        }
        let results = try await runAll(engine, requests)
        for (i, result) in results.enumerated() {
            let want = Self.model.generate(prompt: requests[i].promptTokens, maxNewTokens: 25, sampling: sampling)
            if i % 2 == 0 {
                let body = result.finish == .stopToken(1) ? result.tokens.dropLast() : result.tokens[...]
                #expect(body.allSatisfy { $0 % 2 == 0 }, "\(result.tokens)")
            } else {
                #expect(result.tokens == want.tokens, "unconstrained requests in the same batches are unchanged")
            }
        }
        await engine.shutdown()
    }

    @Test func aFailingConstraintAbortsOnlyItsRequest() async throws {
        let engine = makeFakeEngine()
        let bad = GenerationRequest(id: "bad", promptTokens: [5, 6], maxNewTokens: 10, constraint: FailingConstraint())
        let good = GenerationRequest(id: "good", promptTokens: [5, 6, 7], maxNewTokens: 10)
        let results = try await runAll(engine, [bad, good])
        guard case .abort(let message)? = results[0].finish else {
            Issue.record("expected an abort, got \(String(describing: results[0].finish))")
            return
        }
        #expect(message.contains("structured output") && message.contains("the grammar broke"))
        #expect(results[1].tokens == Self.model.generate(prompt: [5, 6, 7], maxNewTokens: 10).tokens)
        await expectNoLeaks(engine)
        await engine.shutdown()
    }
}
