import ErnieModel
import Foundation

/// A short throughput measurement of the whole forward step (embedding to sampled token) on a loaded model:
/// decode steps at several batch sizes over a fixed context, and one prefill chunk.
public enum ThroughputBench {
    public struct Options: Sendable {
        public var batchSizes: [Int]
        public var decodeSteps: Int
        /// Tokens already in each sequence's KV cache when decoding starts.
        public var context: Int
        public var prefillTokens: Int
        /// Prefills of other prompts after the timed ones, 1, 2, … tokens shorter (each a new length that routes
        /// differently, as a new prompt in a server), timed one by one.
        public var newPrompts: Int

        public init(
            batchSizes: [Int] = [1, 8, 64], decodeSteps: Int = 16, context: Int = 512, prefillTokens: Int = 2048,
            newPrompts: Int = 3
        ) {
            self.batchSizes = batchSizes
            self.decodeSteps = decodeSteps
            self.context = context
            self.prefillTokens = prefillTokens
            self.newPrompts = newPrompts
        }

        /// KV pages the measurement needs with `pageSize`-token pages.
        public func pagesNeeded(pageSize: Int) -> Int {
            let perSequence = (context + decodeSteps + 2 + pageSize - 1) / pageSize
            let decode = (batchSizes.max() ?? 1) * perSequence
            let prefill = (prefillTokens + pageSize - 1) / pageSize
            return max(decode, prefill) + 1
        }
    }

    /// One measured configuration.
    public struct Line: Sendable {
        public var what: String
        public var tokensPerSecond: Double
        public var millisecondsPerStep: Double

        public var text: String {
            "\(what.padding(toLength: 28, withPad: " ", startingAt: 0))"
                + String(format: "%9.1f ms/step  %10.1f tok/s", millisecondsPerStep, tokensPerSecond)
        }
    }

    /// `probe`: a line of backend statistics, logged after the first prefill, the repeated ones and the new prompts.
    public static func run(
        executor: any ModelExecutor, options: Options, probe: (() -> String)? = nil, log: (String) -> Void
    ) throws -> [Line] {
        let pageSize = executor.kvLayout.pageSize
        let vocab = executor.config.vocabSize
        var lines: [Line] = []
        for batch in options.batchSizes {
            let perSequence = (options.context + options.decodeSteps + 2 + pageSize - 1) / pageSize
            var times: [Double] = []
            for step in 0..<(options.decodeSteps + 2) {
                var sequences: [ForwardBatch.Sequence] = []
                for s in 0..<batch {
                    let first = 1 + s * perSequence
                    sequences.append(
                        .init(
                            tokenOffset: s, tokenCount: 1, startPosition: options.context + step,
                            pages: (first..<(first + perSequence)).map { Int32($0) }
                        ))
                }
                let tokens = (0..<batch).map { Int32(($0 * 7919 + step * 104_729) % max(vocab - 1, 1)) }
                let requests = (0..<batch).map { LogitsRequest(tokenIndex: $0, sampling: .greedy, vocabLimit: vocab) }
                let start = Date()
                _ = try executor.execute(
                    ForwardBatch(tokens: tokens, sequences: sequences, pageSize: pageSize),
                    logits: requests)
                if step >= 2 { times.append(Date().timeIntervalSince(start)) }
            }
            let mean = times.reduce(0, +) / Double(max(times.count, 1))
            let line = Line(
                what: "decode batch \(batch) ctx \(options.context)", tokensPerSecond: Double(batch) / mean,
                millisecondsPerStep: mean * 1000)
            log(line.text)
            lines.append(line)
        }
        if options.prefillTokens > 0 {
            let pages = (options.prefillTokens + pageSize - 1) / pageSize
            // Prompt `seed`: the same tokens every time for seed 0; another seed is `seed` tokens shorter and routes
            // differently (a new length and new row counts per expert, as most new prompts in a server).
            // Its batch, and the logits request of its last token.
            func prompt(_ seed: Int) -> (batch: ForwardBatch, request: [LogitsRequest]) {
                let tokens = (0..<max(1, options.prefillTokens - seed)).map {
                    Int32(($0 * 31 + seed * ($0 % 13 + 1) * 7919) % max(vocab - 1, 1))
                }
                let batch = ForwardBatch(
                    tokens: tokens,
                    sequences: [
                        .init(
                            tokenOffset: 0, tokenCount: tokens.count, startPosition: 0,
                            pages: (1...pages).map { Int32($0) })
                    ],
                    pageSize: pageSize
                )
                return (batch, [LogitsRequest(tokenIndex: tokens.count - 1, sampling: .greedy, vocabLimit: vocab)])
            }
            let (batch, request) = prompt(0)
            let tokens = batch.tokens
            // The first run meets its GEMM shapes for the first time (as a server does with each new prompt length).
            let first = Date()
            _ = try executor.execute(batch, logits: request)
            let firstMilliseconds = Date().timeIntervalSince(first) * 1000
            log(String(format: "prefill %d tokens, first run: %.1f ms", tokens.count, firstMilliseconds))
            if let probe { log("  after the first prefill: \(probe())") }
            let start = Date()
            let repeats = 3
            for _ in 0..<repeats { _ = try executor.execute(batch, logits: request) }
            let seconds = Date().timeIntervalSince(start) / Double(repeats)
            let line = Line(
                what: "prefill \(tokens.count) tokens", tokensPerSecond: Double(tokens.count) / seconds,
                millisecondsPerStep: seconds * 1000)
            log(line.text)
            lines.append(line)
            if let probe { log("  after the repeated prefills: \(probe())") }
            if options.newPrompts > 0 {
                var times: [Double] = []
                for seed in 1...options.newPrompts {
                    let (batch, request) = prompt(seed)
                    let started = Date()
                    _ = try executor.execute(batch, logits: request)
                    times.append(Date().timeIntervalSince(started) * 1000)
                }
                let mean = times.reduce(0, +) / Double(times.count)
                log(
                    "prefill \(tokens.count) tokens, new prompts: "
                        + times.map { String(format: "%.1f", $0) }.joined(separator: " / ")
                        + String(format: " ms (mean %.1f; 1 to %d tokens shorter)", mean, options.newPrompts))
                if let probe { log("  after the new prompts: \(probe())") }
            }
        }
        return lines
    }
}
