import Foundation

/// The sampling semantics of `Sampling.swift`, on one row of raw logits, independent of any device.
///
/// Every backend must reproduce exactly this (the CPU backend calls it; the CUDA backend is tested against it):
/// 1. Only ids below `n = min(vocabLimit, row length)` exist.
/// 2. Log-probabilities (`logprob`, `targetLogprob`, `top`) are `log_softmax` of the raw logits over those ids.
///    `top` lists the `topLogprobs` largest, most likely first, ties to the lower id. A target id at or above `n`
///    gets `-inf`.
/// 3. Penalties on a copy of the raw logits: repetition `x > 0 ? x / r : x · r` once for every id in the prompt or
///    the output; then `x -= frequency · count + presence` for every id generated `count > 0` times.
/// 4. Banned ids, and ids not in `allowedTokens` when it is set, get `-inf` (logprobs stay those of step 2: the
///    reported log-probabilities describe the model's distribution, not the constrained one).
/// 5. Greedy (`temperature <= 0` or `topK == 1`): arg-max of the penalised logits, ties to the lowest id.
/// 6. Otherwise `p = softmax(x / temperature)`; sort ids by `p` descending (ties: lower id first), drop zeros;
///    top-k keeps the first `topK` (when `topK > 0`); top-p drops an id when the probability mass strictly before
///    it in that order exceeds `topP` (the first id always stays); min-p drops ids with `p < minP · p_max`.
///    The cumulative mass of top-p is taken on the full softmax, before top-k (SGLang's order-independent form).
/// 7. The draw: the kept id maximising `p_i / E_i`, `E_i = -log(SamplingRandom.uniform(seed, randomCounter, i))`,
///    ties to the lowest id. This is an exact sample of the renormalised kept distribution.
public enum Sampler {
    /// Answers `request` from one row of raw logits.
    public static func run(_ logits: UnsafeBufferPointer<Float>, _ request: LogitsRequest) throws -> TokenResult {
        let n = try validLength(logits.count, request)
        let lse = logSumExp(logits, count: n)
        var target: Float?
        if let t = request.targetToken {
            target = t >= 0 && Int(t) < n ? logits[Int(t)] - lse : -.infinity
        }
        let top = topLogprobs(logits, count: n, k: min(request.topLogprobs, n), lse: lse)
        guard let params = request.sampling else {
            return TokenResult(token: nil, logprob: target ?? 0, targetLogprob: target, top: top)
        }
        let token = try choose(logits, count: n, params: params, request: request)
        return TokenResult(token: Int32(token), logprob: logits[token] - lse, targetLogprob: target, top: top)
    }

    public static func run(_ logits: [Float], _ request: LogitsRequest) throws -> TokenResult {
        try logits.withUnsafeBufferPointer { try run($0, request) }
    }

    /// The distribution a non-greedy request draws from (steps 1, 3, 4 and 6, renormalised), as probabilities
    /// for ids `0..<n`; a greedy request gives a one-hot vector.
    public static func distribution(
        _ logits: [Float], params: SamplingParams, penalties: PenaltyHistory? = nil, bannedTokens: [Int32] = [],
        vocabLimit: Int, allowedTokens: TokenBitmask? = nil
    ) throws -> [Float] {
        let request = LogitsRequest(
            tokenIndex: 0, sampling: params, penalties: penalties, bannedTokens: bannedTokens, vocabLimit: vocabLimit,
            allowedTokens: allowedTokens
        )
        let n = try validLength(logits.count, request)
        let work = try logits.withUnsafeBufferPointer { try penalized($0, count: n, params: params, request: request) }
        var out = [Float](repeating: 0, count: n)
        if greedy(params) {
            out[try argmax(work)] = 1
            return out
        }
        let kept = try keptCandidates(work, temperature: params.temperature, params: params)
        let total = kept.reduce(0.0) { $0 + Double($1.p) }
        for c in kept { out[c.id] = Float(Double(c.p) / total) }
        return out
    }

    // MARK: Steps

    private static func validLength(_ rowLength: Int, _ request: LogitsRequest) throws -> Int {
        guard request.vocabLimit > 0 else {
            throw ModelError.invalidBatch("vocabLimit \(request.vocabLimit) leaves no token to choose")
        }
        guard request.topLogprobs >= 0 else {
            throw ModelError.invalidBatch("topLogprobs \(request.topLogprobs) is negative")
        }
        if let s = request.sampling {
            guard s.temperature.isFinite, s.repetitionPenalty > 0, s.repetitionPenalty.isFinite,
                  s.frequencyPenalty.isFinite, s.presencePenalty.isFinite, !s.topP.isNaN, !s.minP.isNaN
            else { throw ModelError.invalidBatch("invalid sampling parameters \(s)") }
        }
        return min(request.vocabLimit, rowLength)
    }

    /// `log Σ exp(x_i)` over the first `count` logits.
    public static func logSumExp(_ x: UnsafeBufferPointer<Float>, count: Int) -> Float {
        var m = -Float.infinity
        for i in 0..<count where x[i] > m { m = x[i] }
        guard m.isFinite else { return m }
        var sum: Double = 0
        for i in 0..<count { sum += Double(expf(x[i] - m)) }
        return m + Float(log(sum))
    }

    private static func topLogprobs(_ x: UnsafeBufferPointer<Float>, count: Int, k: Int, lse: Float) -> [TokenLogprob] {
        guard k > 0 else { return [] }
        // Insertion into a small sorted list: (value desc, id asc).
        var best: [(id: Int, v: Float)] = []
        best.reserveCapacity(k + 1)
        for i in 0..<count {
            let v = x[i]
            if best.count == k, let last = best.last, !(v > last.v) { continue }
            var pos = best.count
            while pos > 0 && v > best[pos - 1].v { pos -= 1 }
            best.insert((i, v), at: pos)
            if best.count > k { best.removeLast() }
        }
        return best.map { TokenLogprob(token: Int32($0.id), logprob: $0.v - lse) }
    }

    private static func penalized(
        _ logits: UnsafeBufferPointer<Float>, count n: Int, params: SamplingParams, request: LogitsRequest
    ) throws -> [Float] {
        var work = Array(logits.prefix(n))
        if let history = request.penalties, params.usesPenalties {
            if params.repetitionPenalty != 1 {
                let r = params.repetitionPenalty
                var seen = history.promptTokens
                for (id, c) in history.outputCounts where c > 0 { seen.insert(id) }
                for id in seen where id >= 0 && Int(id) < n {
                    let x = work[Int(id)]
                    work[Int(id)] = x > 0 ? x / r : x * r
                }
            }
            if params.frequencyPenalty != 0 || params.presencePenalty != 0 {
                for (id, c) in history.outputCounts where c > 0 && id >= 0 && Int(id) < n {
                    work[Int(id)] -= params.frequencyPenalty * Float(c) + params.presencePenalty
                }
            }
        }
        for id in request.bannedTokens where id >= 0 && Int(id) < n {
            work[Int(id)] = -.infinity
        }
        if let allowed = request.allowedTokens {
            allowed.words.withUnsafeBufferPointer { words in
                for w in 0..<(n + 31) / 32 {
                    let word = w < words.count ? words[w] : 0
                    if word == .max { continue }
                    for bit in 0..<32 where word & (1 << UInt32(bit)) == 0 {
                        let id = w * 32 + bit
                        if id < n { work[id] = -.infinity }
                    }
                }
            }
        }
        return work
    }

    /// Greedy per `SamplingParams.isGreedy`, or a temperature so small that `1 / T` overflows.
    private static func greedy(_ params: SamplingParams) -> Bool {
        params.isGreedy || !(1 / params.temperature).isFinite
    }

    private static func argmax(_ x: [Float]) throws -> Int {
        var best = -1
        var bestValue = -Float.infinity
        for (i, v) in x.enumerated() where v > bestValue {
            best = i
            bestValue = v
        }
        guard best >= 0 else { throw ModelError.invalidBatch("every token is banned or has -inf logit") }
        return best
    }

    struct Candidate {
        var id: Int
        /// Unnormalised probability `exp((x - max) / T)`.
        var p: Float
    }

    private static func keptCandidates(_ x: [Float], temperature: Float, params: SamplingParams) throws -> [Candidate] {
        var m = -Float.infinity
        for v in x where v > m { m = v }
        guard m.isFinite else { throw ModelError.invalidBatch("every token is banned or has -inf logit") }
        let invT = 1 / temperature
        var candidates: [Candidate] = []
        candidates.reserveCapacity(x.count)
        var sum: Double = 0
        for (i, v) in x.enumerated() {
            let p = expf((v - m) * invT)
            if p > 0 {
                candidates.append(Candidate(id: i, p: p))
                sum += Double(p)
            }
        }
        let topK = params.topK > 0 && params.topK < candidates.count ? params.topK : 0
        guard topK > 0 || params.topP < 1 || params.minP > 0 else { return candidates }
        candidates = prefiltered(candidates, topK: topK, topP: params.topP, minP: params.minP, sum: sum)
        // Sort by probability descending, ties to the lower id: one integer key per candidate (p ≥ 0, so its bit
        // pattern orders like its value; the complemented id breaks ties toward lower ids).
        var keys = candidates.map { UInt64($0.p.bitPattern) << 32 | UInt64(~UInt32($0.id)) }
        keys.sort(by: >)
        candidates = keys.map { Candidate(id: Int(~UInt32(truncatingIfNeeded: $0)), p: Float(bitPattern: UInt32($0 >> 32))) }
        if topK > 0 && candidates.count > topK { candidates.removeSubrange(topK...) }
        if params.topP < 1 {
            var before: Double = 0
            var keep = 0
            for c in candidates {
                if before / sum > Double(params.topP) { break }
                before += Double(c.p)
                keep += 1
            }
            candidates.removeSubrange(keep...)
        }
        if params.minP > 0, let pmax = candidates.first?.p {
            let threshold = params.minP * pmax
            candidates.removeAll { $0.p < threshold }
        }
        return candidates
    }

    /// Drops, without sorting, candidates that top-k, top-p or min-p are certain to drop, so only a short list is
    /// sorted. A candidate below a threshold `τ` sorts after every candidate at or above it, so: when those hold
    /// more than `topP` of the mass, its exclusive mass exceeds `topP`; when there are at least `topK` of them, its
    /// rank is at least `topK`. The exact filters still run afterwards on the survivors.
    private static func prefiltered(
        _ candidates: [Candidate], topK: Int, topP: Float, minP: Float, sum: Double
    ) -> [Candidate] {
        var pmax: Float = 0
        for c in candidates where c.p > pmax { pmax = c.p }
        var floor: Float = minP > 0 ? minP * pmax : 0
        if topP < 1 {
            var tau = pmax
            var found = false
            for _ in 0..<40 {
                var mass: Double = 0
                for c in candidates where c.p >= tau { mass += Double(c.p) }
                if mass / sum > Double(topP) {
                    found = true
                    break
                }
                tau *= 0.5
            }
            if found { floor = max(floor, tau) }
        }
        if topK > 0 {
            var tau = pmax
            var found = false
            for _ in 0..<40 {
                var count = 0
                for c in candidates where c.p >= tau { count += 1 }
                if count >= topK {
                    found = true
                    break
                }
                tau *= 0.5
            }
            if found { floor = max(floor, tau) }
        }
        return floor > 0 ? candidates.filter { $0.p >= floor } : candidates
    }

    private static func choose(
        _ logits: UnsafeBufferPointer<Float>, count n: Int, params: SamplingParams, request: LogitsRequest
    ) throws -> Int {
        let work = try penalized(logits, count: n, params: params, request: request)
        if greedy(params) { return try argmax(work) }
        let kept = try keptCandidates(work, temperature: params.temperature, params: params)
        var best = -1
        var bestScore = -Float.infinity
        for c in kept {
            let u = SamplingRandom.uniform(seed: params.seed, counter: request.randomCounter, index: UInt32(c.id))
            let score = c.p / -logf(u)
            if score > bestScore || (score == bestScore && c.id < best) {
                best = c.id
                bestScore = score
            }
        }
        guard best >= 0 else { throw ModelError.invalidBatch("no token survives the sampling filters") }
        return best
    }
}
