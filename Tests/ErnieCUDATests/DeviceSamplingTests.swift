import ErnieModel
import Foundation
import Testing

@testable import ErnieCUDA

/// The sampling contract (ErnieModel's `Sampler` documentation) written out on the host, sort-based.
enum SamplingReference {
    static func run(_ logits: [Float], _ request: LogitsRequest) -> TokenResult? {
        let n = min(request.vocabLimit, logits.count)
        let row = Array(logits.prefix(n))
        let m = row.max()!
        let lse = m + Float(log(row.reduce(0.0) { $0 + Double(expf($1 - m)) }))
        var result = TokenResult(token: nil, logprob: 0)
        if let t = request.targetToken {
            result.targetLogprob = t >= 0 && Int(t) < n ? row[Int(t)] - lse : -.infinity
            result.logprob = result.targetLogprob!
        }
        let order = (0..<n).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
        result.top = order.prefix(request.topLogprobs).map { TokenLogprob(token: Int32($0), logprob: row[$0] - lse) }
        guard let params = request.sampling else { return result }
        var x = row
        if let history = request.penalties, params.usesPenalties {
            var seen = history.promptTokens
            for (id, c) in history.outputCounts where c > 0 { seen.insert(id) }
            if params.repetitionPenalty != 1 {
                for id in seen where Int(id) < n {
                    x[Int(id)] =
                        x[Int(id)] > 0 ? x[Int(id)] / params.repetitionPenalty : x[Int(id)] * params.repetitionPenalty
                }
            }
            for (id, c) in history.outputCounts where c > 0 && Int(id) < n {
                x[Int(id)] -= params.frequencyPenalty * Float(c) + params.presencePenalty
            }
        }
        for id in request.bannedTokens where Int(id) < n { x[Int(id)] = -.infinity }
        if let allowed = request.allowedTokens {
            for i in 0..<n where !allowed.contains(i) { x[i] = -.infinity }
        }
        let token: Int
        if params.isGreedy || !(1 / params.temperature).isFinite {
            var best = -1
            for i in 0..<n where x[i] > -.infinity && (best < 0 || x[i] > x[best]) { best = i }
            guard best >= 0 else { return nil }
            token = best
        } else {
            let xm = x.max()!
            let invT = 1 / params.temperature
            var candidates = (0..<n).map { (id: $0, p: expf((x[$0] - xm) * invT)) }.filter { $0.p > 0 }
            let total = candidates.reduce(0.0) { $0 + Double($1.p) }
            candidates.sort { $0.p > $1.p || ($0.p == $1.p && $0.id < $1.id) }
            if params.topK > 0 && params.topK < candidates.count { candidates.removeSubrange(params.topK...) }
            if params.topP < 1 {
                var before = 0.0
                var keep = 0
                for c in candidates {
                    if before > Double(params.topP) * total { break }
                    before += Double(c.p)
                    keep += 1
                }
                candidates.removeSubrange(keep...)
            }
            if params.minP > 0 { candidates.removeAll { $0.p < params.minP } }
            var best = -1
            var bestScore = -Float.infinity
            for c in candidates {
                let u = SamplingRandom.uniform(seed: params.seed, counter: request.randomCounter, index: UInt32(c.id))
                let score = c.p / -logf(u)
                if score > bestScore || (score == bestScore && c.id < best) {
                    best = c.id
                    bestScore = score
                }
            }
            guard best >= 0 else { return nil }
            token = best
        }
        result.token = Int32(token)
        result.logprob = row[token] - lse
        return result
    }
}

@Suite(.serialized, .enabled(if: TestDevice.available, "no CUDA device (GPU or emulator)"))
struct DeviceSamplingTests {
    static func requests() -> [LogitsRequest] {
        let history = PenaltyHistory(promptTokens: [1, 2, 3, 50], outputCounts: [2: 3, 7: 1, 90: 2])
        var out: [LogitsRequest] = [
            LogitsRequest(tokenIndex: 0, sampling: nil, targetToken: 17, topLogprobs: 5, vocabLimit: 300),
            LogitsRequest(tokenIndex: 1, sampling: .greedy, targetToken: 299, topLogprobs: 3, vocabLimit: 250),
            LogitsRequest(tokenIndex: 2, sampling: .greedy, bannedTokens: [], vocabLimit: 300),
            LogitsRequest(
                tokenIndex: 3,
                sampling: SamplingParams(
                    temperature: 0, repetitionPenalty: 1.5,
                    frequencyPenalty: 0.7, presencePenalty: 0.4),
                penalties: history, vocabLimit: 300),
        ]
        let samplings: [SamplingParams] = [
            SamplingParams(temperature: 1, seed: 1),
            SamplingParams(temperature: 0.7, topK: 5, seed: 2),
            SamplingParams(temperature: 1.3, topP: 0.5, seed: 3),
            SamplingParams(temperature: 0.9, minP: 0.2, seed: 4),
            SamplingParams(temperature: 1, topP: 0.8, topK: 40, minP: 0.05, seed: 5),
            SamplingParams(
                temperature: 0.5, topP: 0.95, topK: 3, repetitionPenalty: 1.2, frequencyPenalty: 0.3, seed: 6),
            SamplingParams(temperature: 2, topP: 0.3, seed: 7),
            SamplingParams(temperature: 1, topK: 1, seed: 8),
            SamplingParams(temperature: 1e-30, seed: 9),
        ]
        for (i, params) in samplings.enumerated() {
            for counter in [0, 1, 5] as [UInt64] {
                out.append(
                    LogitsRequest(
                        tokenIndex: out.count, sampling: params, randomCounter: counter, targetToken: Int32(i),
                        topLogprobs: i % 3, penalties: history, bannedTokens: [Int32(10 + i)], vocabLimit: 280
                    ))
            }
        }
        // Structured output: sparse masks (a few allowed ids, the most likely one excluded), greedy and sampled.
        var sparse = TokenBitmask(count: 300)
        for id in [3, 64, 65, 130, 131, 132, 250, 299] { sparse.insert(id) }
        var dense = TokenBitmask(words: [UInt32](repeating: .max, count: 10))
        for id in stride(from: 0, to: 300, by: 3) { dense.words[id >> 5] &= ~(1 << UInt32(id & 31)) }
        for (i, mask) in [sparse, dense, TokenBitmask(words: [1 << 7])].enumerated() {
            out.append(LogitsRequest(tokenIndex: out.count, sampling: .greedy, topLogprobs: 2, vocabLimit: 300,
                                     allowedTokens: mask))
            out.append(LogitsRequest(
                tokenIndex: out.count, sampling: SamplingParams(temperature: 1.1, topP: 0.9, seed: UInt64(20 + i)),
                randomCounter: 3, penalties: history, bannedTokens: [131], vocabLimit: 300, allowedTokens: mask))
        }
        return out
    }

    /// Vocabularies of 300 (rows read 2 bytes at a time) and 304 (16-byte loads, then a scalar tail below the
    /// requests' limits of 250 and 300).
    @Test(arguments: [300, 304]) func samplingMatchesTheReference(vocab: Int) throws {
        let backend = try TestDevice.backend()
        try backend.allocateKVCache(KVCacheLayout(numPages: 4, pageSize: 16, numLayers: 1, numKVHeads: 1, headDim: 64))
        let requests = Self.requests()
        // Logits with many exact ties (few distinct bf16 values) and a few large ones.
        var logits = TestData.values(requests.count * vocab, seed: 31, scale: 2.5)
        for i in stride(from: 0, to: logits.count, by: 7) { logits[i] = bf(logits[i] * 0.25).rounded() }
        let table = try backend.makeWeight(
            TestData.tensor("logits", [requests.count, vocab], logits),
            precision: .standard)
        try backend.beginStep(identityBatch(requests.count))
        let rows = try backend.embed(table)
        let results = try backend.sample(rows, requests: requests)
        try backend.endStep()
        for (i, request) in requests.enumerated() {
            let row = Array(logits[(i * vocab)..<((i + 1) * vocab)])
            let expected = try #require(SamplingReference.run(row, request))
            let got = results[i]
            #expect(got.token == expected.token, "request \(i) \(String(describing: request.sampling))")
            #expect(abs(got.logprob - expected.logprob) < 1e-4, "request \(i) logprob")
            if let target = expected.targetLogprob {
                #expect(
                    got.targetLogprob.map { abs($0 - target) < 1e-4 || (target.isInfinite && $0 == target) } == true,
                    "request \(i) target")
            }
            #expect(got.top.map(\.token) == expected.top.map(\.token), "request \(i) top ids")
            for (a, b) in zip(got.top, expected.top) { #expect(abs(a.logprob - b.logprob) < 1e-4) }
        }
    }

    /// Many draws (one per random counter) from one tie-heavy distribution pick the same ids as the reference.
    @Test func seededDrawsMatchTheReferenceForEveryCounter() throws {
        let backend = try TestDevice.backend()
        try backend.allocateKVCache(KVCacheLayout(numPages: 32, pageSize: 16, numLayers: 1, numKVHeads: 1, headDim: 64))
        let vocab = 64
        let row = (0..<vocab).map { bf(Float($0 % 9) * 0.4 - 1) }
        let params = SamplingParams(temperature: 0.8, topP: 0.9, topK: 12, seed: 1234)
        let draws = 400
        let table = try backend.makeWeight(
            TestData.tensor("l", [draws, vocab], (0..<draws).flatMap { _ in row }), precision: .standard
        )
        try backend.beginStep(identityBatch(draws))
        let rows = try backend.embed(table)
        let requests = (0..<draws).map {
            LogitsRequest(tokenIndex: $0, sampling: params, randomCounter: UInt64($0), vocabLimit: vocab)
        }
        let results = try backend.sample(rows, requests: requests)
        try backend.endStep()
        var histogram = [Int](repeating: 0, count: vocab)
        for (i, r) in results.enumerated() {
            #expect(r.token == SamplingReference.run(row, requests[i])?.token, "draw \(i)")
            if let t = r.token { histogram[Int(t)] += 1 }
        }
        // Only the kept ids (the 12 largest: ids with value 8 or 7 of `$0 % 9`) are ever drawn.
        for id in 0..<vocab where id % 9 < 7 { #expect(histogram[id] == 0, "id \(id) drawn") }
    }
}
