import ErnieModel
import Foundation

/// A deterministic stand-in for a language model: the logits after a prefix are a pseudo-random function of the
/// whole prefix (every token and its position). Engines and schedulers are checked against `FakeModel.generate`,
/// a plain loop that knows nothing about batches, pages or caches.
struct FakeModel: Sendable {
    var vocabSize = 64
    var eosToken: Int32 = 1
    /// Added to the EOS logit so some requests end early.
    var eosBias: Float = 0.8

    static func mix(_ state: UInt64, token: Int32, position: Int) -> UInt64 {
        var z = state ^ (UInt64(UInt32(bitPattern: token)) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(position) &* 0x632B_E59B)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// State after `tokens` (position i holds tokens[i]).
    static func state(of tokens: some Sequence<Int32>) -> UInt64 {
        var h: UInt64 = 0x1234_5678
        for (position, token) in tokens.enumerated() { h = mix(h, token: token, position: position) }
        return h
    }

    func logits(state: UInt64) -> [Float] {
        (0..<vocabSize).map { v in
            let z = Self.mix(state, token: Int32(v), position: 7_777)
            var x = Float(z >> 40) / 16_777_216.0 * 8 - 4
            if Int32(v) == eosToken { x += eosBias }
            return x
        }
    }

    /// `log_softmax` over ids below `limit`.
    static func logSoftmax(_ logits: [Float], limit: Int) -> [Float] {
        let row = logits.prefix(limit)
        let m = row.max() ?? 0
        let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
        return row.map { $0 - lse }
    }

    /// The token `request` picks from `logits` (greedy or the exponential race), honouring banned ids and the limit.
    static func pick(_ logits: [Float], _ request: LogitsRequest) -> Int32 {
        let limit = min(request.vocabLimit, logits.count)
        var banned = Set(request.bannedTokens)
        if let allowed = request.allowedTokens {
            for v in 0..<limit where !allowed.contains(v) { banned.insert(Int32(v)) }
        }
        let params = request.sampling ?? .greedy
        if params.isGreedy {
            var best: Int32 = -1
            var bestValue = -Float.infinity
            for v in 0..<limit where !banned.contains(Int32(v)) && (best < 0 || logits[v] > bestValue) {
                best = Int32(v)
                bestValue = logits[v]
            }
            return best
        }
        let scaled = (0..<limit).map { logits[$0] / params.temperature }
        let m = scaled.max() ?? 0
        var best: Int32 = -1
        var bestScore = -Float.infinity
        for v in 0..<limit where !banned.contains(Int32(v)) {
            let p = exp(scaled[v] - m)
            let u = SamplingRandom.uniform(seed: params.seed, counter: request.randomCounter, index: UInt32(v))
            let score = p / -log(u)
            if best < 0 || score > bestScore {
                best = Int32(v)
                bestScore = score
            }
        }
        return best
    }

    /// Answers one logits request like a backend would.
    static func answer(_ logits: [Float], _ request: LogitsRequest) -> TokenResult {
        let logprobs = logSoftmax(logits, limit: min(request.vocabLimit, logits.count))
        let top = logprobs.indices.sorted { logprobs[$0] > logprobs[$1] || (logprobs[$0] == logprobs[$1] && $0 < $1) }
            .prefix(request.topLogprobs).map { TokenLogprob(token: Int32($0), logprob: logprobs[$0]) }
        let target = request.targetToken.map { logprobs[Int($0)] }
        guard request.sampling != nil else {
            return TokenResult(token: nil, logprob: target ?? 0, targetLogprob: target, top: top)
        }
        let token = pick(logits, request)
        return TokenResult(token: token, logprob: logprobs[Int(token)], targetLogprob: target, top: top)
    }

    /// What a request generates, computed by the simplest possible loop.
    struct Expected: Equatable {
        var tokens: [Int]
        var logprobs: [Float]
        var stoppedByToken: Int?
    }

    func generate(
        prompt: [Int], maxNewTokens: Int, minNewTokens: Int = 0, sampling: SamplingParams = .greedy,
        stopTokenIDs: Set<Int> = [], ignoreEOS: Bool = false
    ) -> Expected {
        var tokens = prompt.map { Int32($0) }
        var out = Expected(tokens: [], logprobs: [], stoppedByToken: nil)
        while out.tokens.count < maxNewTokens {
            let logits = logits(state: Self.state(of: tokens))
            var stops = stopTokenIDs
            if !ignoreEOS { stops.insert(Int(eosToken)) }
            let banned = out.tokens.count < minNewTokens ? stops.sorted().map { Int32($0) } : []
            let request = LogitsRequest(
                tokenIndex: 0, sampling: sampling, randomCounter: UInt64(out.tokens.count), bannedTokens: banned,
                vocabLimit: vocabSize)
            let result = Self.answer(logits, request)
            let token = Int(result.token ?? -1)
            out.tokens.append(token)
            out.logprobs.append(result.logprob)
            tokens.append(Int32(token))
            if stops.contains(token) {
                out.stoppedByToken = token
                break
            }
        }
        return out
    }

    /// Log-probability of prompt token `i` (i ≥ 1) given the tokens before it.
    func promptLogprob(_ prompt: [Int], at i: Int) -> Float {
        let logits = logits(state: Self.state(of: prompt[..<i].map { Int32($0) }))
        return Self.logSoftmax(logits, limit: vocabSize)[prompt[i]]
    }

    var config: ModelConfig {
        ModelConfig(
            architecture: .dense, hiddenSize: 8, intermediateSize: 8, numHiddenLayers: 1, numAttentionHeads: 1,
            numKeyValueHeads: 1, headDim: 8, vocabSize: vocabSize, maxPositionEmbeddings: 1 << 16, ropeTheta: 10_000,
            rmsNormEps: 1e-6, useBias: false, tieWordEmbeddings: true, bosTokenID: nil,
            eosTokenIDs: [Int(eosToken)], padTokenID: nil, moe: nil)
    }
}
