import ErnieModel

/// Rules shared by every request of one engine.
struct GenerationRules: Sendable {
    /// Tokens that end generation unless `ignoreEOS`.
    var eosTokenIDs: Set<Int>
    /// Ids at or above this bound are never sampled.
    var vocabLimit: Int
    var contextLength: Int
}

/// The generation side of one request on the engine thread: sampling inputs, stop conditions, incremental text and
/// the stream its outputs go to.
struct RequestState {
    let id: SequenceID
    let request: GenerationRequest
    /// `request.sampling` with the effective seed.
    let sampling: SamplingParams
    let continuation: AsyncStream<GenerationOutput>.Continuation
    private var decoder: any IncrementalTextDecoder
    private var stop: StopMatcher
    private(set) var outputCount = 0
    private var penalties: PenaltyHistory?
    /// Prompt log-probabilities being collected (index `i` is prompt token `inputLogprobsStart + i`).
    private var inputLogprobs: [LogprobEntry?]?
    private var deliveredFirstOutput = false
    var cachedTokens = 0
    /// Whether the request has left the queue at least once (its prompt and cache hits are counted then).
    var wasAdmitted = false
    /// The structured-output constraint's state, when the request has one.
    private var matcher: (any ConstraintMatcher)?

    init(
        id: SequenceID, request: GenerationRequest, seed: UInt64,
        continuation: AsyncStream<GenerationOutput>.Continuation, decoder: any IncrementalTextDecoder
    ) {
        self.id = id
        self.request = request
        var sampling = request.sampling
        sampling.seed = seed
        self.sampling = sampling
        self.continuation = continuation
        self.decoder = decoder
        stop = StopMatcher(stopStrings: request.stopStrings)
        if sampling.usesPenalties {
            penalties = PenaltyHistory(promptTokens: Set(request.promptTokens.map { Int32(truncatingIfNeeded: $0) }))
        }
        if let start = request.inputLogprobsStart {
            inputLogprobs = [LogprobEntry?](repeating: nil, count: max(0, request.promptTokens.count - start))
        }
        matcher = request.constraint?.makeMatcher(skipSpecialTokens: request.skipSpecialTokens)
    }

    var isConstrained: Bool { matcher != nil }

    /// Tokens that end the request: the model's EOS tokens (unless ignored) and the request's stop tokens.
    private func stopTokens(_ rules: GenerationRules) -> Set<Int> {
        request.ignoreEOS ? request.stopTokenIDs : request.stopTokenIDs.union(rules.eosTokenIDs)
    }

    /// The tokens the constraint allows next: its mask plus, where the output may end, the stop tokens (EOS counts
    /// even with `ignoreEOS`: a complete structured output must be able to end). `nil` without a constraint.
    func allowedTokens(rules: GenerationRules) throws -> TokenBitmask? {
        guard let matcher else { return nil }
        var mask = try matcher.allowedTokens()
        if matcher.isAccepting {
            for id in request.stopTokenIDs.union(rules.eosTokenIDs) where id >= 0 && id < rules.vocabLimit {
                mask.insert(id)
            }
        }
        guard !mask.isEmpty else {
            throw EngineFailure("the structured-output constraint allows no token at output position \(outputCount)")
        }
        return mask
    }

    // MARK: Sampling inputs

    /// What to do with the logits of the sequence's last token (row `tokenIndex` of the step); `allowed` is the
    /// constraint's mask (`allowedTokens(rules:)`).
    func sampleRequest(tokenIndex: Int, rules: GenerationRules, allowed: TokenBitmask? = nil) -> LogitsRequest {
        var banned: [Int32] = []
        // Under a constraint that is complete, the stop tokens are all that is left: min_new_tokens yields.
        if outputCount < request.minNewTokens && (matcher?.canContinue ?? true) {
            banned = stopTokens(rules).filter { $0 >= 0 && $0 < rules.vocabLimit }.sorted().map { Int32($0) }
        }
        return LogitsRequest(
            tokenIndex: tokenIndex, sampling: sampling, randomCounter: UInt64(outputCount), targetToken: nil,
            topLogprobs: request.returnOutputLogprobs ? request.topLogprobs : 0, penalties: penalties,
            bannedTokens: banned, vocabLimit: rules.vocabLimit, allowedTokens: allowed)
    }

    /// Scoring of prompt position `position` (its logits give the log-probability of prompt token `position + 1`).
    func scoreRequest(tokenIndex: Int, position: Int, rules: GenerationRules) -> LogitsRequest {
        LogitsRequest(
            tokenIndex: tokenIndex, sampling: nil,
            targetToken: Int32(truncatingIfNeeded: request.promptTokens[position + 1]),
            topLogprobs: request.topLogprobs, vocabLimit: rules.vocabLimit)
    }

    mutating func recordScore(position: Int, result: TokenResult) {
        guard let start = request.inputLogprobsStart, var entries = inputLogprobs.take() else { return }
        defer { inputLogprobs = entries }
        let index = position + 1 - start
        guard index >= 0, index < entries.count else { return }
        entries[index] = LogprobEntry(
            token: request.promptTokens[position + 1], logprob: result.targetLogprob ?? result.logprob, top: result.top)
    }

    // MARK: Outputs

    /// Takes a sampled token: updates the text and decides whether the request is finished.
    mutating func accept(_ result: TokenResult, rules: GenerationRules) -> GenerationOutput {
        let token = Int(result.token ?? 0)
        outputCount += 1
        if penalties != nil { penalties?.outputCounts[Int32(truncatingIfNeeded: token), default: 0] += 1 }
        let logprobs =
            request.returnOutputLogprobs ? [LogprobEntry(token: token, logprob: result.logprob, top: result.top)] : []
        var text: String
        var reason: FinishReason?
        // Under a constraint, a stop token (sampled only where the output may end) always ends the request.
        let endsConstrained = matcher != nil && request.stopTokenIDs.union(rules.eosTokenIDs).contains(token)
        if endsConstrained || stopTokens(rules).contains(token) {
            reason = .stopToken(token)
            text = finalText()
        } else if !acceptConstrained(token) {
            return output(
                newTokens: [token], text: "", logprobs: logprobs,
                reason: .abort("engine error: token \(token) is not allowed by the structured-output constraint"))
        } else {
            let fed = stop.feed(decoder.append(token), allowMatch: outputCount >= request.minNewTokens)
            text = fed.text
            if let matched = fed.stop {
                reason = .stopString(matched)
            } else if outputCount >= request.maxNewTokens
                || request.promptTokens.count + outputCount >= rules.contextLength
            {
                reason = .length
                text += finalText()
            }
        }
        return output(newTokens: [token], text: text, logprobs: logprobs, reason: reason)
    }

    /// Feeds a sampled token to the constraint; false when it is rejected (or the matcher fails).
    private mutating func acceptConstrained(_ token: Int) -> Bool {
        guard var current = matcher.take() else { return true }
        defer { matcher = current }
        return (try? current.accept(token)) ?? false
    }

    /// The last output of a request that asked for no new tokens, once its prompt went through the model.
    mutating func prefilledOutput() -> GenerationOutput {
        output(newTokens: [], text: "", logprobs: [], reason: .length)
    }

    /// The last output of a request that was aborted.
    mutating func abortOutput(_ message: String) -> GenerationOutput {
        output(newTokens: [], text: "", logprobs: [], reason: .abort(message))
    }

    /// Text still held by the detokenizer and the stop matcher (a stop string completed by it still cuts it).
    private mutating func finalText() -> String {
        let fed = stop.feed(decoder.finish(), allowMatch: outputCount >= request.minNewTokens)
        return fed.stop == nil ? fed.text + stop.flush() : fed.text
    }

    private mutating func output(
        newTokens: [Int], text: String, logprobs: [LogprobEntry], reason: FinishReason?
    ) -> GenerationOutput {
        var out = GenerationOutput(
            newTokens: newTokens, text: text, outputLogprobs: logprobs, promptTokens: request.promptTokens.count,
            completionTokens: outputCount, cachedTokens: cachedTokens, finishReason: reason)
        if !deliveredFirstOutput {
            deliveredFirstOutput = true
            out.inputLogprobs = inputLogprobs
        }
        return out
    }
}
