/// Generates from one prompt at a time on a `ModelExecutor`, for tests and the `generate` command: prefill in
/// chunks, then decode one token per step until an end token or the token budget. KV pages are handed out in order
/// from the start of the cache (the real scheduler with its page pool lives in ErnieRuntime).
public final class SequentialGenerator {
    public let executor: any ModelExecutor

    /// Why generation stopped.
    public enum FinishReason: Sendable, Equatable {
        /// An end token was sampled (it is included in `tokens`).
        case stop(Int32)
        /// `maxNewTokens` tokens were generated.
        case length
    }

    public struct Output: Sendable, Equatable {
        public var tokens: [Int32]
        public var logprobs: [Float]
        public var finishReason: FinishReason
    }

    public init(executor: any ModelExecutor) {
        self.executor = executor
    }

    /// Log-probability of every prompt token given the tokens before it (`prompt.count - 1` values).
    public func promptLogprobs(_ prompt: [Int32], chunkSize: Int = 512) throws -> [Float] {
        var out: [Float] = []
        try prefill(prompt, chunkSize: chunkSize, sampling: nil) { chunkStart, count in
            (0..<count).compactMap { j in
                let position = chunkStart + j
                guard position + 1 < prompt.count else { return nil }
                return (j, prompt[position + 1])
            }
        } onResults: { results in
            out += results.map { $0.targetLogprob ?? -.infinity }
        }
        return out
    }

    /// Generates up to `maxNewTokens` tokens after `prompt`; `onToken` sees each token as it is produced.
    public func generate(
        prompt: [Int32], sampling: SamplingParams, maxNewTokens: Int, stopTokens: Set<Int32> = [],
        chunkSize: Int = 512, vocabLimit: Int? = nil, onToken: (Int32) throws -> Void = { _ in }
    ) throws -> Output {
        guard !prompt.isEmpty else { throw ModelError.invalidBatch("the prompt is empty") }
        let limit = vocabLimit ?? executor.config.vocabSize
        let layout = executor.kvLayout
        let capacity = layout.numPages * layout.pageSize
        guard prompt.count + max(maxNewTokens, 1) - 1 <= capacity else {
            throw ModelError.invalidBatch(
                "prompt of \(prompt.count) tokens plus \(maxNewTokens) new tokens exceed the KV cache (\(capacity))"
            )
        }
        var output = Output(tokens: [], logprobs: [], finishReason: .length)
        guard maxNewTokens > 0 else { return output }
        var history = PenaltyHistory(promptTokens: Set(prompt))
        let usesPenalties = sampling.usesPenalties
        var last: TokenResult?
        try prefill(prompt, chunkSize: chunkSize, sampling: sampling, vocabLimit: limit,
                    penalties: usesPenalties ? history : nil) { chunkStart, count in
            chunkStart + count == prompt.count ? [(count - 1, nil)] : []
        } onResults: { results in
            last = results.last
        }
        var position = prompt.count
        while true {
            guard let token = last?.token else { throw ModelError.backend("no token was sampled") }
            output.tokens.append(token)
            output.logprobs.append(last?.logprob ?? 0)
            try onToken(token)
            history.outputCounts[token, default: 0] += 1
            if stopTokens.contains(token) {
                output.finishReason = .stop(token)
                return output
            }
            if output.tokens.count >= maxNewTokens { return output }
            let batch = ForwardBatch(
                tokens: [token],
                sequences: [.init(tokenOffset: 0, tokenCount: 1, startPosition: position, pages: pages(position + 1))],
                pageSize: layout.pageSize
            )
            let request = LogitsRequest(
                tokenIndex: 0, sampling: sampling, randomCounter: UInt64(output.tokens.count),
                penalties: usesPenalties ? history : nil, vocabLimit: limit
            )
            last = try executor.execute(batch, logits: [request]).first
            position += 1
        }
    }

    /// Pages 0, 1, 2, … covering `tokens` positions.
    private func pages(_ tokens: Int) -> [Int32] {
        let size = executor.kvLayout.pageSize
        return (0..<((tokens + size - 1) / size)).map { Int32($0) }
    }

    /// Runs the prompt through the model in chunks; `requestsFor(chunkStart, count)` lists (row in chunk, target)
    /// pairs that want logits.
    private func prefill(
        _ prompt: [Int32], chunkSize: Int, sampling: SamplingParams?, vocabLimit: Int? = nil,
        penalties: PenaltyHistory? = nil,
        requestsFor: (Int, Int) -> [(Int, Int32?)], onResults: ([TokenResult]) -> Void
    ) throws {
        let layout = executor.kvLayout
        guard prompt.count <= layout.numPages * layout.pageSize else {
            throw ModelError.invalidBatch("a prompt of \(prompt.count) tokens does not fit the KV cache")
        }
        let chunk = max(chunkSize, 1)
        var start = 0
        while start < prompt.count {
            let count = min(chunk, prompt.count - start)
            let batch = ForwardBatch(
                tokens: Array(prompt[start..<(start + count)]),
                sequences: [.init(tokenOffset: 0, tokenCount: count, startPosition: start, pages: pages(start + count))],
                pageSize: layout.pageSize
            )
            let requests = requestsFor(start, count).map { row, target in
                LogitsRequest(
                    tokenIndex: row, sampling: sampling, randomCounter: 0, targetToken: target, penalties: penalties,
                    vocabLimit: vocabLimit ?? executor.config.vocabSize
                )
            }
            onResults(try executor.execute(batch, logits: requests))
            start += count
        }
    }
}
