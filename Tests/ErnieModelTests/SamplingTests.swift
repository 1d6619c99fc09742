import ErnieCPU
import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

/// The sampler against numpy's rendering of SGLang's pipeline (Tests/Fixtures/models/sampling-reference.json).
@Suite struct SamplingTests {
    struct Reference: Decodable {
        struct Params: Decodable {
            var temperature: Float
            var topP: Float
            var topK: Int
            var minP: Float
            var repetitionPenalty: Float
            var frequencyPenalty: Float
            var presencePenalty: Float
            var promptTokens: [Int32]
            var outputCounts: [[Int32]]
            var banned: [Int32]
            var vocabLimit: Int
        }

        struct Case: Decodable {
            var vector: Int
            var params: Params
            var distribution: [Double]
            var logSoftmax: [Double]
            var top5: [Int32]
        }

        var vectors: [[Float]]
        var cases: [Case]
    }

    static let reference: Reference = {
        let url = URL(fileURLWithPath: Fixtures.path("models/sampling-reference.json"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        // A broken fixture fails every test that reads it.
        return (try? decoder.decode(Reference.self, from: Data(contentsOf: url))) ?? Reference(vectors: [], cases: [])
    }()

    static func request(_ c: Reference.Case, seed: UInt64 = 0, counter: UInt64 = 0, topLogprobs: Int = 0)
        -> LogitsRequest
    {
        let p = c.params
        let sampling = SamplingParams(
            temperature: p.temperature, topP: p.topP, topK: p.topK, minP: p.minP,
            repetitionPenalty: p.repetitionPenalty, frequencyPenalty: p.frequencyPenalty,
            presencePenalty: p.presencePenalty, seed: seed
        )
        var counts: [Int32: Int32] = [:]
        for pair in p.outputCounts { counts[pair[0]] = pair[1] }
        let history = PenaltyHistory(promptTokens: Set(p.promptTokens), outputCounts: counts)
        return LogitsRequest(
            tokenIndex: 0, sampling: sampling, randomCounter: counter, topLogprobs: topLogprobs,
            penalties: sampling.usesPenalties ? history : nil, bannedTokens: p.banned, vocabLimit: p.vocabLimit
        )
    }

    @Test func fixtureIsPresent() {
        #expect(Self.reference.cases.count >= 12)
    }

    @Test func filteredDistributionsMatchNumpy() throws {
        for (i, c) in Self.reference.cases.enumerated() {
            let r = Self.request(c)
            let got = try Sampler.distribution(
                Self.reference.vectors[c.vector], params: try #require(r.sampling), penalties: r.penalties,
                bannedTokens: r.bannedTokens, vocabLimit: r.vocabLimit
            )
            #expect(got.count == c.distribution.count, "case \(i)")
            let worst = zip(got, c.distribution).reduce(0.0) { max($0, abs(Double($1.0) - $1.1)) }
            #expect(worst < 2e-5, "case \(i): max difference \(worst)")
            // Same support exactly.
            #expect(zip(got, c.distribution).allSatisfy { ($0 > 0) == ($1 > 0) }, "case \(i)")
        }
    }

    @Test func logprobsAreTheRawLogSoftmaxBelowTheVocabLimit() throws {
        for (i, c) in Self.reference.cases.enumerated() {
            let logits = Self.reference.vectors[c.vector]
            var r = Self.request(c, topLogprobs: 5)
            r.targetToken = 3
            let result = try Sampler.run(logits, r)
            let token = try #require(result.token)
            #expect(Int(token) < c.params.vocabLimit)
            #expect(abs(Double(result.logprob) - c.logSoftmax[Int(token)]) < 1e-5, "case \(i)")
            #expect(abs(Double(result.targetLogprob ?? .nan) - c.logSoftmax[3]) < 1e-5, "case \(i)")
            #expect(result.top.map(\.token) == c.top5, "case \(i)")
            for entry in result.top {
                #expect(abs(Double(entry.logprob) - c.logSoftmax[Int(entry.token)]) < 1e-5)
            }
        }
    }

    @Test func greedyCasesPickTheReferenceArgmax() throws {
        for c in Self.reference.cases where c.params.temperature <= 0 || c.params.topK == 1 {
            let expected = try #require(c.distribution.firstIndex(of: 1))
            for seed in [UInt64(0), 7, 99] {
                let result = try Sampler.run(Self.reference.vectors[c.vector], Self.request(c, seed: seed))
                #expect(result.token == Int32(expected))
            }
        }
    }

    /// Seeded draws over many counters follow the filtered distribution (every cell within 5 standard errors).
    @Test func sampledFrequenciesMatchTheDistribution() throws {
        let draws = 20_000
        for (i, c) in Self.reference.cases.enumerated() where c.params.temperature > 0 && c.params.topK != 1 {
            let logits = Self.reference.vectors[c.vector]
            var counts = [Int](repeating: 0, count: c.distribution.count)
            for counter in 0..<draws {
                let token = try #require(try Sampler.run(logits, Self.request(c, seed: 42, counter: UInt64(counter))).token)
                counts[Int(token)] += 1
            }
            for (id, p) in c.distribution.enumerated() {
                let frequency = Double(counts[id]) / Double(draws)
                if p == 0 {
                    #expect(counts[id] == 0, "case \(i): id \(id) is filtered out but was drawn \(counts[id]) times")
                } else {
                    let sigma = (p * (1 - p) / Double(draws)).squareRoot()
                    #expect(abs(frequency - p) < 5 * sigma + 1e-4, "case \(i): id \(id) drawn \(frequency), p \(p)")
                }
            }
        }
    }

    @Test func seedsReproduceAndDiffer() throws {
        let c = Self.reference.cases[2]
        let logits = Self.reference.vectors[c.vector]
        func draws(seed: UInt64) throws -> [Int32] {
            try (0..<64).map { try Sampler.run(logits, Self.request(c, seed: seed, counter: UInt64($0))).token ?? -1 }
        }
        #expect(try draws(seed: 5) == draws(seed: 5))
        #expect(try draws(seed: 5) != draws(seed: 6))
        #expect(Set(try draws(seed: 5)).count > 3)
    }

    @Test func vocabLimitAndBannedTokensAreRespected() throws {
        // The highest logits sit at ids ≥ 32; a limit of 32 must never yield them, greedy or sampled.
        var logits = [Float](repeating: 0, count: 40)
        for i in 32..<40 { logits[i] = 50 }
        logits[7] = 1
        for counter in 0..<500 {
            let sampled = try Sampler.run(logits, LogitsRequest(
                tokenIndex: 0, sampling: SamplingParams(temperature: 1.5, seed: 3), randomCounter: UInt64(counter),
                bannedTokens: [7], vocabLimit: 32
            ))
            let token = try #require(sampled.token)
            #expect(token < 32 && token != 7)
        }
        let greedy = try Sampler.run(logits, LogitsRequest(tokenIndex: 0, sampling: .greedy, vocabLimit: 32))
        #expect(greedy.token == 7)
        let banned = try Sampler.run(logits, LogitsRequest(tokenIndex: 0, sampling: .greedy, bannedTokens: [7],
                                                           vocabLimit: 32))
        #expect(banned.token == 0)  // all remaining logits tie at 0: the lowest id
        // Log-probabilities are normalised over the ids below the limit.
        let scored = try Sampler.run(logits, LogitsRequest(tokenIndex: 0, sampling: nil, targetToken: 7, vocabLimit: 32))
        let expected = 1 - Foundation.log(Foundation.exp(1.0) + 31)
        #expect(abs(Double(scored.targetLogprob ?? 0) - expected) < 1e-5)
        let beyond = try Sampler.run(logits, LogitsRequest(tokenIndex: 0, sampling: nil, targetToken: 35, vocabLimit: 32))
        #expect(beyond.targetLogprob == -.infinity)
        #expect(beyond.token == nil)
    }

    @Test func everythingBannedIsAnError() {
        let logits: [Float] = [1, 2, 3]
        #expect(throws: ModelError.self) {
            try Sampler.run(logits, LogitsRequest(tokenIndex: 0, sampling: .greedy, bannedTokens: [0, 1, 2],
                                                  vocabLimit: 3))
        }
        #expect(throws: ModelError.self) {
            try Sampler.run(logits, LogitsRequest(tokenIndex: 0, sampling: SamplingParams(), bannedTokens: [0, 1, 2],
                                                  vocabLimit: 3))
        }
        #expect(throws: ModelError.self) {
            try Sampler.run(logits, LogitsRequest(tokenIndex: 0, sampling: .greedy, vocabLimit: 0))
        }
    }

    /// Through the whole engine: a sampled step on a fixture model never yields an id at or above `vocabLimit`,
    /// and a seeded generation is reproducible.
    @Test func engineSamplingRespectsTheVocabLimitAndSeeds() throws {
        let reference = try ModelFixtures.reference("moe-hub-f32")
        let generator = SequentialGenerator(executor: try ModelFixtures.executor("moe-hub-f32"))
        let params = SamplingParams(temperature: 1.2, topP: 0.95, seed: 11)
        let first = try generator.generate(prompt: reference.prompts[1], sampling: params, maxNewTokens: 30,
                                           vocabLimit: 100)
        let second = try generator.generate(prompt: reference.prompts[1], sampling: params, maxNewTokens: 30,
                                            vocabLimit: 100)
        #expect(first.tokens == second.tokens)
        #expect(first.tokens.allSatisfy { $0 < 100 })
        #expect(first.tokens.count == 30)
    }
}
