import ArgumentParser
import ErnieCUDA
import ErnieModel
import Foundation

/// `ernie cuda check --tp N` and `ernie cuda bench --tp N`: the NCCL tensor-parallel path on this machine's GPUs.
enum TensorParallelCheck {
    /// The fixture through `tp` GPUs and through one GPU: each against transformers (log-probabilities, greedy
    /// tokens and, when the fixture has them, per-layer hidden states), and the two against each other. Passes when
    /// the tensor-parallel run passes the fixture's tolerances, every rank replayed decode graphs, and (with one
    /// rank) its outputs and hidden states equal one GPU's bit for bit.
    static func run(
        modelPath: String, reference: FixtureCheck.Reference, tp: Int, epSize: Int = 1,
        tolerance: FixtureCheck.Tolerance, margin: Float, hiddenTolerance: HiddenStateTolerance = HiddenStateTolerance()
    ) throws {
        guard tp >= 1 else { throw ValidationError("--tp must be at least 1") }
        let statistics = RankStatistics()
        let parallel: FixtureCheck.Outputs
        var parallelStates: [[HiddenStatePoint: HiddenStateSnapshot]] = []
        let parallelHidden: [HiddenStateComparison]
        do {
            let executor = try CUDATensorParallel.executor(
                CUDATensorParallel.Options(
                    directory: modelPath, tpSize: tp, epSize: epSize, pageSize: 16,
                    kvCache: .pages(FixtureCheck.pagesNeeded(reference, pageSize: 16)), statistics: statistics))
            print("loaded on \(executor.deviceDescription)")
            parallelHidden = try FixtureCheck.hiddenStates(reference: reference, tolerance: hiddenTolerance) {
                let states = try executor.captureHiddenStates(prompt: $0)
                parallelStates.append(states)
                return states
            }
            parallel = try FixtureCheck.outputs(executor: executor, reference: reference)
        }
        var parallelResult = FixtureCheck.score(
            parallel, reference: reference, tolerance: tolerance, marginThreshold: margin)
        parallelResult.hiddenStates = parallelHidden
        for comparison in parallelHidden { print(comparison.table) }
        print("cuda tp\(tp)\(epSize > 1 ? " ep\(epSize)" : "")  \(parallelResult.summary)")
        let graphs = statistics.graphs
        for (rank, counters) in graphs.enumerated() { print("rank \(rank) \(counters.summary)") }

        let single: FixtureCheck.Outputs
        var singleStates: [[HiddenStatePoint: HiddenStateSnapshot]] = []
        let singleHidden: [HiddenStateComparison]
        let singleGraphs: GraphStatistics
        do {
            let backend = try CUDABackend()
            let executor = try ErnieForward.load(
                directory: modelPath, backend: backend,
                kvPages: FixtureCheck.pagesNeeded(reference, pageSize: 16), pageSize: 16)
            singleHidden = try FixtureCheck.hiddenStates(reference: reference, tolerance: hiddenTolerance) {
                let states = try executor.captureHiddenStates(prompt: $0)
                singleStates.append(states)
                return states
            }
            single = try FixtureCheck.outputs(executor: executor, reference: reference)
            singleGraphs = backend.graphStatistics
        }
        var singleResult = FixtureCheck.score(
            single, reference: reference, tolerance: tolerance, marginThreshold: margin)
        singleResult.hiddenStates = singleHidden
        print("cuda 1 GPU  \(singleResult.summary)")
        print("1 GPU \(singleGraphs.summary)")
        let difference = FixtureCheck.difference(parallel, single)
        let hiddenDifference = maxDifference(parallelStates, singleStates)
        print(
            "tp\(tp) vs 1 GPU: \(difference.summary)"
                + (parallelStates.isEmpty ? "" : String(format: "; hidden states max |Δ| %.3g", hiddenDifference)))
        var failures: [String] = []
        if !parallelResult.passed { failures.append("the tensor-parallel run is outside the fixture's tolerances") }
        if graphs.count != tp || graphs.contains(where: { $0 != graphs[0] }) {
            failures.append("the ranks' graph counters differ")
        }
        if graphs.contains(where: { $0.groupDisagreements > 0 }) {
            failures.append("the ranks disagreed about decode graphs")
        }
        if singleGraphs.replays > 0, graphs.contains(where: { $0.replays == 0 }) {
            failures.append("one GPU replayed decode graphs but the tensor-parallel ranks did not")
        }
        if tp == 1, !difference.identical || hiddenDifference != 0 {
            failures.append("one NCCL rank differs from the plain one-GPU path")
        }
        if failures.isEmpty {
            print("OK tp\(tp)")
        } else {
            print("FAIL tp\(tp): " + failures.joined(separator: "; "))
            throw ExitCode(1)
        }
    }

    /// Largest |Δ| between two runs' captured hidden states (infinity when they hold different points or shapes).
    static func maxDifference(
        _ a: [[HiddenStatePoint: HiddenStateSnapshot]], _ b: [[HiddenStatePoint: HiddenStateSnapshot]]
    ) -> Float {
        guard a.count == b.count else { return .infinity }
        var worst: Float = 0
        for (x, y) in zip(a, b) {
            guard x.count == y.count else { return .infinity }
            for (point, s) in x {
                guard let t = y[point], t.values.count == s.values.count else { return .infinity }
                for (u, v) in zip(s.values, t.values) {
                    worst = max(worst, u.isNaN || v.isNaN ? .infinity : abs(u - v))
                }
            }
        }
        return worst
    }

    /// `ThroughputBench` through the NCCL path, with every rank's graph counters.
    static func bench(
        modelPath: String, format: LoadFormat, tp: Int, epSize: Int = 1, options: ThroughputBench.Options,
        pageSize: Int, maxTokens: Int
    ) throws {
        let statistics = RankStatistics()
        let start = Date()
        let executor = try CUDATensorParallel.executor(
            CUDATensorParallel.Options(
                directory: modelPath, tpSize: tp, epSize: epSize, format: format, pageSize: pageSize,
                kvCache: .pages(options.pagesNeeded(pageSize: pageSize)),
                backend: .init(maxTokensPerStep: maxTokens), statistics: statistics))
        print(
            "loaded \(modelPath) (\(format.rawValue)) in \(String(format: "%.1f", Date().timeIntervalSince(start)))s "
                + "on \(executor.deviceDescription)")
        _ = try ThroughputBench.run(executor: executor, options: options) { line in
            print(line)
            fflush(nil)
        }
        for (rank, counters) in statistics.graphs.enumerated() { print("rank \(rank) \(counters.summary)") }
    }
}
