public import ErnieModel

/// One generation request as the engine sees it: token ids in, tokens and text out.
/// (`n > 1` is several requests; the radix cache shares their prompt.)
public struct GenerationRequest: Sendable {
    public var id: String
    public var promptTokens: [Int]
    /// How tokens are chosen. `sampling.seed` is used only when `seed` is set (see there).
    public var sampling: SamplingParams
    /// The request's own random seed (`seed` in the API). `nil`: the engine picks `randomSeed + n` for the n-th request
    /// it receives. Either way it replaces `sampling.seed`.
    public var seed: UInt64?
    public var maxNewTokens: Int
    public var minNewTokens: Int
    /// Generation stops when the text contains one of these; the stop string itself is not returned.
    public var stopStrings: [String]
    /// Extra token ids that end generation (the token is not returned as text).
    public var stopTokenIDs: Set<Int>
    /// Do not stop on the model's EOS tokens.
    public var ignoreEOS: Bool
    public var skipSpecialTokens: Bool
    /// Return log-probabilities of prompt tokens from this index on (entry for index 0 is always nil); nil = none.
    public var inputLogprobsStart: Int?
    /// Return the log-probability of every generated token.
    public var returnOutputLogprobs: Bool
    /// With logprobs, also return this many most likely alternatives per position.
    public var topLogprobs: Int
    /// Structured output: only tokens the constraint allows are sampled, and the request may end (on an EOS or stop
    /// token, which then ends it even with `ignoreEOS`) only where the constraint accepts.
    public var constraint: (any GenerationConstraint)?

    public init(
        id: String, promptTokens: [Int], sampling: SamplingParams = .greedy, maxNewTokens: Int = 128,
        minNewTokens: Int = 0, stopStrings: [String] = [], stopTokenIDs: Set<Int> = [], ignoreEOS: Bool = false,
        skipSpecialTokens: Bool = true, inputLogprobsStart: Int? = nil, returnOutputLogprobs: Bool = false,
        topLogprobs: Int = 0, seed: UInt64? = nil, constraint: (any GenerationConstraint)? = nil
    ) {
        self.id = id
        self.seed = seed
        self.promptTokens = promptTokens
        self.sampling = sampling
        self.maxNewTokens = maxNewTokens
        self.minNewTokens = minNewTokens
        self.stopStrings = stopStrings
        self.stopTokenIDs = stopTokenIDs
        self.ignoreEOS = ignoreEOS
        self.skipSpecialTokens = skipSpecialTokens
        self.inputLogprobsStart = inputLogprobsStart
        self.returnOutputLogprobs = returnOutputLogprobs
        self.topLogprobs = topLogprobs
        self.constraint = constraint
    }
}

public enum FinishReason: Sendable, Equatable {
    /// `max_new_tokens` reached (or the context length).
    case length
    /// An EOS token or one of `stopTokenIDs`.
    case stopToken(Int)
    /// One of `stopStrings` appeared in the text.
    case stopString(String)
    /// The request was aborted (client gone, shutdown, or an engine error); the message says why.
    case abort(String)
}

/// One log-probability entry: the token, its log-probability and the most likely alternatives.
public struct LogprobEntry: Sendable, Equatable {
    public var token: Int
    public var logprob: Float
    public var top: [TokenLogprob]

    public init(token: Int, logprob: Float, top: [TokenLogprob] = []) {
        self.token = token
        self.logprob = logprob
        self.top = top
    }
}

/// What the engine streams back for a request: one value per step in which the request made progress.
public struct GenerationOutput: Sendable {
    /// Tokens generated in this step (usually one, including the token that completed a stop string or is a stop
    /// token; empty for a final output that only reports an abort, or ends a `maxNewTokens == 0` scoring request).
    public var newTokens: [Int]
    /// Text that became final in this step (held back while it could still be the start of a stop string).
    public var text: String
    /// Log-probabilities of `newTokens`, when asked for.
    public var outputLogprobs: [LogprobEntry]
    /// Prompt log-probabilities from `inputLogprobsStart` on, delivered once with the first output; `nil` entries
    /// where no value exists (the first prompt token).
    public var inputLogprobs: [LogprobEntry?]?
    public var promptTokens: Int
    public var completionTokens: Int
    /// Prompt tokens served from the prefix cache.
    public var cachedTokens: Int
    /// Set on the last output of the request.
    public var finishReason: FinishReason?

    public init(
        newTokens: [Int], text: String, outputLogprobs: [LogprobEntry] = [], inputLogprobs: [LogprobEntry?]? = nil,
        promptTokens: Int, completionTokens: Int, cachedTokens: Int, finishReason: FinishReason? = nil
    ) {
        self.newTokens = newTokens
        self.text = text
        self.outputLogprobs = outputLogprobs
        self.inputLogprobs = inputLogprobs
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
        self.finishReason = finishReason
    }
}

/// Why the engine refused a request up front.
public enum EngineRejection: Error, Sendable, Equatable {
    /// `--max-queued-requests` reached; retry later (HTTP 503).
    case queueFull
    /// The prompt plus `maxNewTokens` cannot fit the context length or the KV pool (HTTP 400).
    case tooLong(String)
    /// Something else is wrong with the request (HTTP 400).
    case invalid(String)
    /// The engine is shutting down (HTTP 503).
    case shuttingDown
}
