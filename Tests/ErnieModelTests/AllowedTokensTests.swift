import ErnieModel
import Foundation
import Testing

/// `LogitsRequest.allowedTokens` in the CPU sampler: masked ids are never sampled, the kept distribution is the
/// softmax over the allowed ids alone, and log-probabilities stay those of the raw logits.
@Suite struct AllowedTokensTests {
    static let logits: [Float] = (0..<64).map { Float(($0 * 37) % 23) * 0.3 - 2 }

    static func mask(_ ids: [Int]) -> TokenBitmask {
        var mask = TokenBitmask(count: 64)
        for id in ids { mask.insert(id) }
        return mask
    }

    @Test func greedyPicksTheBestAllowedToken() throws {
        let allowed = [1, 5, 9, 33, 60]
        let request = LogitsRequest(
            tokenIndex: 0, sampling: .greedy, topLogprobs: 3, vocabLimit: 64, allowedTokens: Self.mask(allowed))
        let result = try Sampler.run(Self.logits, request)
        let best = allowed.max { Self.logits[$0] < Self.logits[$1] || (Self.logits[$0] == Self.logits[$1] && $0 > $1) }
        #expect(result.token == Int32(best!))
        // Log-probabilities are the unconstrained ones.
        let lse = log(Self.logits.reduce(0.0) { $0 + exp(Double($1)) })
        #expect(abs(Double(result.logprob) - (Double(Self.logits[best!]) - lse)) < 1e-5)
        let rawBest = Self.logits.indices.max { Self.logits[$0] < Self.logits[$1] || (Self.logits[$0] == Self.logits[$1] && $0 > $1) }
        #expect(result.top.first?.token == Int32(rawBest!))
    }

    @Test func samplingDrawsOnlyAllowedTokensWithRenormalisedProbabilities() throws {
        let allowed = [2, 3, 7, 11, 40, 63]
        let params = SamplingParams(temperature: 1.0, seed: 99)
        let distribution = try Sampler.distribution(
            Self.logits, params: params, vocabLimit: 64, allowedTokens: Self.mask(allowed))
        let weights = allowed.map { exp(Double(Self.logits[$0])) }
        let total = weights.reduce(0, +)
        for id in 0..<64 {
            let expected = allowed.firstIndex(of: id).map { weights[$0] / total } ?? 0
            #expect(abs(Double(distribution[id]) - expected) < 1e-5, "id \(id)")
        }
        var counts = [Int](repeating: 0, count: 64)
        for counter in 0..<3000 {
            let request = LogitsRequest(
                tokenIndex: 0, sampling: params, randomCounter: UInt64(counter), vocabLimit: 64,
                allowedTokens: Self.mask(allowed))
            counts[Int(try #require(try Sampler.run(Self.logits, request).token))] += 1
        }
        for id in 0..<64 where !allowed.contains(id) { #expect(counts[id] == 0, "masked id \(id) drawn") }
        for (index, id) in allowed.enumerated() {
            let expected = weights[index] / total * 3000
            #expect(abs(Double(counts[id]) - expected) < 5 * sqrt(expected) + 5, "id \(id)")
        }
    }

    @Test func idsBeyondTheMaskAreNotAllowed() throws {
        // A one-word mask over a 64-id row: ids 32... are disallowed even though the logits favour them.
        var logits = [Float](repeating: 0, count: 64)
        logits[50] = 10
        let request = LogitsRequest(
            tokenIndex: 0, sampling: .greedy, vocabLimit: 64, allowedTokens: TokenBitmask(words: [1 << 4]))
        #expect(try Sampler.run(logits, request).token == 4)
    }

    @Test func anEmptyMaskIsAnError() {
        let request = LogitsRequest(
            tokenIndex: 0, sampling: .greedy, vocabLimit: 64, allowedTokens: TokenBitmask(count: 64))
        #expect(throws: ModelError.self) { try Sampler.run(Self.logits, request) }
    }
}
