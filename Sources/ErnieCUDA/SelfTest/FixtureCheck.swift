import ErnieModel
import Foundation

/// End-to-end check of a model folder against a transformers fixture (`reference.json` as written by
/// scripts/fixtures/models/make_model_fixtures.py or scripts/gpu/make_fullsize_fixture.py): prompt log-probabilities
/// and greedy continuations through `ErnieForward` on any backend.
public enum FixtureCheck {
    /// The parts of a fixture the check reads.
    public struct Reference: Decodable, Sendable {
        public var prompts: [[Int32]]
        public var promptLogprobs: [[Float]]
        public var greedy: [[Int32]]
        public var greedyMargins: [[Float]]
        /// Per-layer hidden states of some prompts (optional; scripts/fixtures/models/hidden_states.py).
        public var hiddenStates: [HiddenStateReference]?

        public static func load(_ path: String) throws -> Reference {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CUDAError.missingResource("cannot read fixture \(path)")
            }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            do {
                return try decoder.decode(Reference.self, from: data)
            } catch {
                throw CUDAError.invalidArgument("fixture \(path) is not a model reference: \(error)")
            }
        }
    }

    public struct Result: Sendable {
        /// Largest |log-probability − transformers| over every scored prompt token.
        public var maxLogprobError: Float
        /// Mean |log-probability − transformers|.
        public var meanLogprobError: Float
        /// Scored prompt tokens.
        public var scoredTokens: Int
        /// Greedy tokens compared (up to the first divergence in each prompt).
        public var greedyCompared: Int
        public var greedyMatched: Int
        /// Divergences where transformers' top-1/top-2 margin was below the threshold (allowed).
        public var lowMarginDivergences: Int
        /// Divergences at a clear margin (failures), as text.
        public var mismatches: [String]
        public var tolerance: Tolerance
        /// Per-layer hidden states against the fixture's `hidden_states` (empty when it has none).
        public var hiddenStates: [HiddenStateComparison] = []
        public var seconds: Double

        public var passed: Bool {
            maxLogprobError <= tolerance.max && meanLogprobError <= tolerance.mean && mismatches.isEmpty
                && hiddenStates.allSatisfy(\.passed)
        }

        /// The hidden-state verdict in a few words ("" when the fixture has none).
        public var hiddenStateSummary: String {
            guard !hiddenStates.isEmpty else { return "" }
            let points = hiddenStates.reduce(0) { $0 + $1.rows.count }
            let worst = hiddenStates.flatMap(\.rows).max { $0.relL2 / $0.relL2Limit < $1.relL2 / $1.relL2Limit }
            var text = "  hidden states: \(points) points"
            if let worst {
                text += String(format: ", worst rel L2 %.2e (limit %.1e) at ", worst.relL2, worst.relL2Limit)
                    + worst.point
            }
            if let failure = hiddenStates.compactMap(\.firstFailure).first {
                text += ", first failure at \(failure.point)"
            }
            return text
        }

        public var summary: String {
            (passed ? "PASS" : "FAIL")
                + String(
                    format: "  |Δ logprob| mean %.4f (tol %.3f) max %.4f (tol %.2f) over %d tokens",
                    meanLogprobError, tolerance.mean, maxLogprobError, tolerance.max, scoredTokens)
                + "  greedy \(greedyMatched)/\(greedyCompared) matched, "
                + "\(lowMarginDivergences) low-margin divergence(s)"
                + (mismatches.isEmpty
                    ? "" : ", \(mismatches.count) mismatch(es): " + mismatches.prefix(3).joined(separator: "; "))
                + hiddenStateSummary + String(format: "  %.1fs", seconds)
        }
    }

    /// Bounds on |Δ log-probability| against a float32 fixture.
    ///
    /// transformers itself run in bf16 differs from its float32 fixtures by 0.013–0.026 on average and 0.05–0.1 at
    /// most on the tiny test models (measured; this backend: 0.012–0.028 on average). In MoE models a bf16 rounding
    /// difference occasionally flips a near-tied expert choice for one token, moving that token's log-probabilities
    /// by a few tenths, so the maximum bound is loose and the mean is the tight one.
    public struct Tolerance: Sendable {
        public var mean: Float
        public var max: Float

        public init(mean: Float = 0.05, max: Float = 0.5) {
            self.mean = mean
            self.max = max
        }
    }

    /// What a model produced for a fixture's prompts: prompt log-probabilities and greedy continuations (as long as
    /// the fixture's).
    public struct Outputs: Sendable {
        public var promptLogprobs: [[Float]]
        public var greedy: [[Int32]]
        public var seconds: Double
    }

    /// Runs every fixture prompt, and each prompt of the fixture's `hidden_states` once more with its residual
    /// stream captured.
    ///
    /// - Parameter marginThreshold: greedy divergences are allowed where transformers' top-1/top-2 logit margin is
    ///   below this.
    public static func run<B: Backend>(
        modelDirectory: String, reference: Reference, backend: B, tolerance: Tolerance = Tolerance(),
        marginThreshold: Float = 0.25,
        hiddenTolerance: HiddenStateTolerance = HiddenStateTolerance(),
        loadFormat: LoadFormat = .auto,
        progress: WeightLoadProgressHandler? = nil
    ) throws -> Result {
        let executor = try ErnieForward.load(
            directory: modelDirectory, backend: backend, format: loadFormat,
            kvPages: pagesNeeded(reference, pageSize: 16), pageSize: 16, progress: progress
        )
        let start = Date()
        let hidden = try hiddenStates(
            reference: reference, tolerance: hiddenTolerance, capture: executor.captureHiddenStates)
        let captureSeconds = Date().timeIntervalSince(start)
        var result = score(
            try outputs(executor: executor, reference: reference), reference: reference, tolerance: tolerance,
            marginThreshold: marginThreshold)
        result.hiddenStates = hidden
        result.seconds += captureSeconds
        return result
    }

    /// KV pages of `pageSize` tokens the longest prompt plus its continuation (and the longest prompt alone, which
    /// a hidden-state capture runs) needs.
    public static func pagesNeeded(_ reference: Reference, pageSize: Int) -> Int {
        let longest = max(
            zip(reference.prompts, reference.greedy).map { $0.count + $1.count }.max() ?? 1,
            reference.prompts.map(\.count).max() ?? 1)
        return (longest + pageSize) / pageSize + 1
    }

    /// Each of the fixture's `hidden_states` entries against `capture` (e.g. `ErnieForward.captureHiddenStates` or
    /// `TensorParallelExecutor.captureHiddenStates`) run on its prompt; empty when the fixture has none.
    public static func hiddenStates(
        reference: Reference, tolerance: HiddenStateTolerance,
        capture: ([Int32]) throws -> [HiddenStatePoint: HiddenStateSnapshot]
    ) throws -> [HiddenStateComparison] {
        try (reference.hiddenStates ?? []).map { entry in
            guard entry.prompt >= 0, entry.prompt < reference.prompts.count else {
                throw CUDAError.invalidArgument(
                    "fixture hidden_states name prompt \(entry.prompt) of \(reference.prompts.count)")
            }
            return try HiddenStateComparison(
                reference: entry, captured: try capture(reference.prompts[entry.prompt]), tolerance: tolerance)
        }
    }

    /// Runs the fixture's prompts through `executor`: prompt log-probabilities, then greedy continuations.
    public static func outputs(executor: any ModelExecutor, reference: Reference) throws -> Outputs {
        let start = Date()
        let generator = SequentialGenerator(executor: executor)
        var out = Outputs(promptLogprobs: [], greedy: [], seconds: 0)
        for (p, prompt) in reference.prompts.enumerated() {
            let scored = prompt.count > 1 && p < reference.promptLogprobs.count
            out.promptLogprobs.append(scored ? try generator.promptLogprobs(prompt) : [])
            let count = p < reference.greedy.count ? reference.greedy[p].count : 0
            out.greedy.append(
                count > 0
                    ? try generator.generate(prompt: prompt, sampling: .greedy, maxNewTokens: count).tokens : [])
        }
        out.seconds = Date().timeIntervalSince(start)
        return out
    }

    /// `outputs` against the fixture (without hidden states: set `Result.hiddenStates` from `hiddenStates`).
    public static func score(
        _ outputs: Outputs, reference: Reference, tolerance: Tolerance = Tolerance(), marginThreshold: Float = 0.25
    ) -> Result {
        var result = Result(
            maxLogprobError: 0, meanLogprobError: 0, scoredTokens: 0, greedyCompared: 0,
            greedyMatched: 0, lowMarginDivergences: 0, mismatches: [], tolerance: tolerance,
            seconds: outputs.seconds)
        var total: Double = 0
        for p in reference.prompts.indices {
            if p < reference.promptLogprobs.count, p < outputs.promptLogprobs.count {
                for (a, b) in zip(outputs.promptLogprobs[p], reference.promptLogprobs[p]) {
                    let error = a.isNaN ? Float.infinity : abs(a - b)
                    result.maxLogprobError = max(result.maxLogprobError, error)
                    total += Double(error)
                    result.scoredTokens += 1
                }
            }
            guard p < reference.greedy.count else { continue }
            let expected = reference.greedy[p]
            let got = p < outputs.greedy.count ? outputs.greedy[p] : []
            let margins = p < reference.greedyMargins.count ? reference.greedyMargins[p] : []
            for (i, token) in expected.enumerated() {
                result.greedyCompared += 1
                if i < got.count, got[i] == token {
                    result.greedyMatched += 1
                    continue
                }
                let margin = i < margins.count ? margins[i] : 0
                if margin < marginThreshold {
                    result.lowMarginDivergences += 1
                } else {
                    let text = i < got.count ? String(got[i]) : "none"
                    result.mismatches.append("prompt \(p) step \(i): \(text) vs \(token) (margin \(margin))")
                }
                break
            }
        }
        result.meanLogprobError = result.scoredTokens > 0 ? Float(total / Double(result.scoredTokens)) : 0
        return result
    }

    /// How far two runs of the same fixture are apart (e.g. tensor-parallel against one GPU).
    public struct Difference: Sendable {
        /// Largest |Δ log-probability| over every scored prompt token.
        public var maxLogprob: Float
        /// Greedy tokens that are equal, of all compared.
        public var greedyEqual: Int
        public var greedyCompared: Int

        public var identical: Bool { maxLogprob == 0 && greedyEqual == greedyCompared }

        public var summary: String {
            String(format: "max |Δ logprob| %.3g, ", maxLogprob)
                + "greedy tokens equal \(greedyEqual)/\(greedyCompared)"
                + (identical ? " (bitwise identical)" : "")
        }
    }

    public static func difference(_ a: Outputs, _ b: Outputs) -> Difference {
        var d = Difference(maxLogprob: 0, greedyEqual: 0, greedyCompared: 0)
        for (x, y) in zip(a.promptLogprobs, b.promptLogprobs) {
            if x.count != y.count { d.maxLogprob = .infinity }
            for (u, v) in zip(x, y) { d.maxLogprob = max(d.maxLogprob, u.isNaN || v.isNaN ? .infinity : abs(u - v)) }
        }
        for (x, y) in zip(a.greedy, b.greedy) {
            d.greedyCompared += max(x.count, y.count)
            d.greedyEqual += zip(x, y).prefix { $0.0 == $0.1 }.count
        }
        return d
    }
}
