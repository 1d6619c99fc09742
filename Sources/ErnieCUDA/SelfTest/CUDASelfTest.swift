import ErnieModel
import Foundation

/// The differential self-test: every backend op on random inputs of several shapes (including ERNIE-4.5's), run on
/// the CUDA backend and on a reference backend (the CPU backend), outputs compared with bf16-appropriate tolerances.
public enum CUDASelfTest {
    /// One compared case.
    public struct Result: Sendable {
        public var shape: String
        public var op: String
        public var detail: String
        public var error: Float
        public var tolerance: Float
        public var seconds: Double
        /// Why it failed or what the error measures.
        public var note: String
        public var passed: Bool { error <= tolerance }

        /// `PASS  linear     ernie-21b  qkv T=1 ...  err 2.1e-03  tol 1.0e-02  0.41s`.
        public var line: String {
            let status = passed ? "PASS" : "FAIL"
            let err = error.isFinite ? String(format: "%.2e", error) : "  inf   "
            var text =
                "\(status)  \(op.padding(toLength: 9, withPad: " ", startingAt: 0)) "
                + "\(shape.padding(toLength: 10, withPad: " ", startingAt: 0)) "
                + "\(detail.padding(toLength: 78, withPad: " ", startingAt: 0)) err \(err)  tol "
                + String(format: "%.1e", tolerance) + String(format: "  %6.2fs", seconds)
            if !note.isEmpty { text += "  \(note)" }
            return text
        }
    }

    /// Every op name `--op` accepts.
    public static let ops = [
        "embed", "rmsnorm", "linear", "silu", "random", "attention", "moe", "sample", "forward", "decode",
    ]

    static func cases(for shape: SelfTestShape) -> [any SelfTestCase] {
        var cases: [any SelfTestCase] = []
        let maxTokens = shape.tokenCounts.max() ?? 1
        for t in shape.tokenCounts { cases.append(EmbedCase(tokens: t)) }
        for t in shape.tokenCounts { cases.append(RMSNormCase(tokens: t)) }
        for t in shape.tokenCounts {
            cases.append(LinearCase(name: "qkv", tokens: t, outFeatures: shape.qkvWidth, inFeatures: shape.hidden))
            cases.append(
                LinearCase(
                    name: "o", tokens: t, outFeatures: shape.hidden, inFeatures: shape.heads * shape.headDim,
                    bias: true))
            cases.append(
                LinearCase(
                    name: "o", tokens: t, outFeatures: shape.hidden,
                    inFeatures: shape.heads * shape.headDim))
            cases.append(
                LinearCase(
                    name: "dense-gate-up", tokens: t, outFeatures: 2 * shape.denseIntermediate,
                    inFeatures: shape.hidden))
            cases.append(
                LinearCase(
                    name: "dense-down", tokens: t, outFeatures: shape.hidden,
                    inFeatures: shape.denseIntermediate))
        }
        cases.append(LinearCase(name: "lm-head", tokens: maxTokens, outFeatures: shape.vocab, inFeatures: shape.hidden))
        cases.append(LinearCase(name: "lm-head", tokens: 1, outFeatures: shape.vocab, inFeatures: shape.hidden))
        cases.append(SiLUCase(tokens: maxTokens, width: shape.denseIntermediate))
        cases.append(RandomWeightCase())
        cases.append(AttentionCase(shape: shape))
        if shape.isMoE { for t in shape.moeTokenCounts { cases.append(MoECase(shape: shape, tokens: t)) } }
        cases.append(SampleCase(shape: shape))
        cases.append(ForwardCase())
        cases.append(DecodeCase(batchSizes: [1, 3, 9, 20]))
        return cases
    }

    /// Runs the cases of `shapes` (only `ops` when given), printing one line per comparison through `log`.
    ///
    /// Every case runs on the CUDA backend with `configuration`'s fast paths (CUDA graphs off, except for cases that
    /// run whole decode steps) and on the reference backend (the CPU). Cases with a `pathTolerance` also run on a
    /// CUDA backend with every fast path off (`PerfOptions.reference`), and decode cases also with the fast paths run
    /// eagerly; each extra comparison is its own result line.
    public static func run<R: Backend>(
        shapes: [SelfTestShape], ops: Set<String>? = nil, configuration: CUDABackend.Configuration = .init(),
        reference: () throws -> R, log: (String) -> Void
    ) -> [Result] {
        var results: [Result] = []
        for shape in shapes {
            let cases = Self.cases(for: shape).filter { ops?.contains($0.op) ?? true }
            if cases.isEmpty { continue }
            let hosts = HostTensorCache()
            let pageSize = 16
            let layout = KVCacheLayout(
                numPages: 256, pageSize: pageSize, numLayers: 2, numKVHeads: shape.kvHeads,
                headDim: shape.headDim)
            var config = configuration
            config.maxTokensPerStep = max(config.maxTokensPerStep, shape.longContext + 256)
            var eager = config
            eager.perf.graphs = false
            var referencePath = config
            referencePath.perf = .reference
            let bags: (fast: WeightBag<CUDABackend>, cpu: WeightBag<R>)
            do {
                bags = (
                    WeightBag(backend: try CUDABackend(configuration: eager), shape: shape, hosts: hosts,
                              pageSize: pageSize),
                    WeightBag(backend: try reference(), shape: shape, hosts: hosts, pageSize: pageSize)
                )
            } catch {
                for c in cases {
                    let r = Result(
                        shape: shape.name, op: c.op, detail: c.detail, error: .infinity,
                        tolerance: c.tolerance, seconds: 0, note: "setup failed: \(error)")
                    log(r.line)
                    results.append(r)
                }
                continue
            }
            var referenceBag: WeightBag<CUDABackend>?
            var graphBag: WeightBag<CUDABackend>?
            func make(_ c: CUDABackend.Configuration) throws -> WeightBag<CUDABackend> {
                WeightBag(backend: try CUDABackend(configuration: c), shape: shape, hosts: hosts, pageSize: pageSize)
            }
            for c in cases {
                let start = Date()
                var result = Result(
                    shape: shape.name, op: c.op, detail: c.detail, error: .infinity,
                    tolerance: c.tolerance, seconds: 0, note: "")
                var extra: [Result] = []
                do {
                    try bags.fast.backend.allocateKVCache(layout)
                    try bags.cpu.backend.allocateKVCache(layout)
                    let expected = try c.run(bags.cpu)
                    var fastBag = bags.fast
                    var before = GraphStatistics()
                    if c.usesGraphs, config.perf.graphs {
                        if graphBag == nil { graphBag = try make(config) }
                        fastBag = graphBag!
                        try fastBag.backend.allocateKVCache(layout)
                        before = fastBag.backend.graphStatistics
                    }
                    let got = try c.run(fastBag)
                    let (error, note) = c.compare(cuda: got, reference: expected)
                    result.error = error
                    result.note = note
                    if c.usesGraphs, config.perf.graphs {
                        let stats = fastBag.backend.graphStatistics
                        let replays = stats.replays - before.replays
                        let fallbacks = stats.fallbacks - before.fallbacks
                        result.note += "; graphs: \(stats.captures - before.captures) captured, \(replays) replayed, "
                            + "\(fallbacks) fallbacks"
                        if replays == 0 || fallbacks > 0 {
                            result.error = .infinity
                            result.note += " (expected replays and no fallbacks"
                                + (fastBag.backend.graphCaptureError.map { "; capture error: \($0)" } ?? "") + ")"
                        }
                        let eagerOut = try c.run(bags.fast)
                        let (e, n) = c.compare(cuda: got, reference: eagerOut)
                        extra.append(
                            Result(
                                shape: shape.name, op: c.op, detail: c.detail + " [graphs vs eager]", error: e,
                                tolerance: c.pathTolerance ?? c.tolerance, seconds: 0, note: n))
                    }
                    if let pathTolerance = c.pathTolerance {
                        if referenceBag == nil { referenceBag = try make(referencePath) }
                        try referenceBag!.backend.allocateKVCache(layout)
                        let pathOut = try c.run(referenceBag!)
                        let (e, n) = c.compare(cuda: got, reference: pathOut)
                        extra.append(
                            Result(
                                shape: shape.name, op: c.op, detail: c.detail + " [vs reference path]", error: e,
                                tolerance: pathTolerance, seconds: 0, note: n))
                    }
                } catch {
                    result.note = "error: \(error)"
                }
                result.seconds = Date().timeIntervalSince(start)
                for r in [result] + extra {
                    log(r.line)
                    results.append(r)
                }
            }
            hosts.removeAll()
        }
        return results
    }

    /// `selftest: N passed, M failed` plus the failed lines.
    public static func summary(_ results: [Result]) -> String {
        let failed = results.filter { !$0.passed }
        var text = "selftest: \(results.count - failed.count) passed, \(failed.count) failed"
        if !failed.isEmpty { text += "\n" + failed.map { "  " + $0.line }.joined(separator: "\n") }
        return text
    }
}
