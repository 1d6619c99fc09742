/// How one next token is chosen from a row of logits.
///
/// Order of operations (shared by every backend): penalties on the raw logits (repetition over prompt+output tokens,
/// frequency and presence over output tokens), banned and disallowed tokens removed, then temperature (0 = greedy arg-max, ties to the lowest id),
/// softmax, top-k, top-p, min-p, renormalise, then one draw by the exponential race
/// `argmax_i p_i / E_i` with `E_i = -log(u_i)`, `u_i = SamplingRandom.uniform(seed, counter, i)`.
public struct SamplingParams: Sendable, Equatable, Hashable {
    public var temperature: Float
    public var topP: Float
    /// `<= 0` disables top-k.
    public var topK: Int
    public var minP: Float
    public var repetitionPenalty: Float
    public var frequencyPenalty: Float
    public var presencePenalty: Float
    public var seed: UInt64

    public init(
        temperature: Float = 1, topP: Float = 1, topK: Int = -1, minP: Float = 0, repetitionPenalty: Float = 1,
        frequencyPenalty: Float = 0, presencePenalty: Float = 0, seed: UInt64 = 0
    ) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.frequencyPenalty = frequencyPenalty
        self.presencePenalty = presencePenalty
        self.seed = seed
    }

    public static let greedy = SamplingParams(temperature: 0)

    public var isGreedy: Bool { temperature <= 0 || topK == 1 }
    public var usesPenalties: Bool { repetitionPenalty != 1 || frequencyPenalty != 0 || presencePenalty != 0 }
}

/// Token history a request's penalties look at.
public struct PenaltyHistory: Sendable, Equatable {
    /// Tokens of the prompt (repetition penalty only).
    public var promptTokens: Set<Int32>
    /// Count of each generated token (all three penalties).
    public var outputCounts: [Int32: Int32]

    public init(promptTokens: Set<Int32> = [], outputCounts: [Int32: Int32] = [:]) {
        self.promptTokens = promptTokens
        self.outputCounts = outputCounts
    }
}

/// What the engine wants from one row of logits.
public struct LogitsRequest: Sendable, Equatable {
    /// Index of the token (in `ForwardBatch.tokens`) whose logits this row is.
    public var tokenIndex: Int
    /// `nil`: score only (prompt log-probabilities), nothing is sampled.
    public var sampling: SamplingParams?
    /// Which draw of the request's random stream to use (its output index), so results never depend on batching.
    public var randomCounter: UInt64
    /// Report the log-probability of this token (the next prompt token, when scoring a prompt).
    public var targetToken: Int32?
    /// Report this many most likely tokens with their log-probabilities.
    public var topLogprobs: Int
    /// Penalty inputs; `nil` when the request uses no penalties.
    public var penalties: PenaltyHistory?
    /// Tokens that must not be sampled this step (EOS before `min_new_tokens`).
    public var bannedTokens: [Int32]
    /// Ids at or above this bound are never sampled (padding rows of the embedding).
    public var vocabLimit: Int
    /// When set, only these ids may be sampled (structured output); `nil` allows every id. Log-probabilities are
    /// still those of the unconstrained distribution.
    public var allowedTokens: TokenBitmask?

    public init(
        tokenIndex: Int, sampling: SamplingParams?, randomCounter: UInt64 = 0, targetToken: Int32? = nil,
        topLogprobs: Int = 0, penalties: PenaltyHistory? = nil, bannedTokens: [Int32] = [], vocabLimit: Int,
        allowedTokens: TokenBitmask? = nil
    ) {
        self.tokenIndex = tokenIndex
        self.sampling = sampling
        self.randomCounter = randomCounter
        self.targetToken = targetToken
        self.topLogprobs = topLogprobs
        self.penalties = penalties
        self.bannedTokens = bannedTokens
        self.vocabLimit = vocabLimit
        self.allowedTokens = allowedTokens
    }
}

/// The answer to one `LogitsRequest`. Log-probabilities are `log_softmax` of the raw logits (before penalties and
/// temperature), over ids below `vocabLimit`.
public struct TokenResult: Sendable, Equatable {
    /// The sampled token, or `nil` for a score-only request.
    public var token: Int32?
    /// Log-probability of `token`.
    public var logprob: Float
    /// Log-probability of `LogitsRequest.targetToken`.
    public var targetLogprob: Float?
    /// The `topLogprobs` most likely tokens, most likely first.
    public var top: [TokenLogprob]

    public init(token: Int32?, logprob: Float, targetLogprob: Float? = nil, top: [TokenLogprob] = []) {
        self.token = token
        self.logprob = logprob
        self.targetLogprob = targetLogprob
        self.top = top
    }
}

public struct TokenLogprob: Sendable, Equatable {
    public var token: Int32
    public var logprob: Float

    public init(token: Int32, logprob: Float) {
        self.token = token
        self.logprob = logprob
    }
}

/// The counter-based random numbers every backend uses, so a seeded request samples the same tokens on any device
/// and in any batch.
public enum SamplingRandom {
    /// A uniform number in (0, 1) for (seed, counter, token id): splitmix64 of a mix of the three, top 24 bits.
    @inlinable
    public static func uniform(seed: UInt64, counter: UInt64, index: UInt32) -> Float {
        var z = seed &+ counter &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index) &* 0xD1B5_4A32_D192_ED03
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z = z ^ (z >> 31)
        return (Float(z >> 40) + 0.5) * (1.0 / 16_777_216.0)
    }
}
