import ArgumentParser
import ErnieCUDA
import ErnieModel
import Foundation

/// `ernie cuda check --tp N` and `ernie cuda bench --tp N`: the NCCL tensor-parallel path on this machine's GPUs.
enum TensorParallelCheck {
    /// The fixture through `tp` GPUs and through one GPU: each against transformers, and the two against each other.
    /// Passes when the tensor-parallel run passes the fixture's tolerances, every rank replayed decode graphs, and
    /// (with one rank) its outputs equal one GPU's bit for bit.
    static func run(
        modelPath: String, reference: FixtureCheck.Reference, tp: Int, tolerance: FixtureCheck.Tolerance,
        margin: Float
    ) throws {
        guard tp >= 1 else { throw ValidationError("--tp must be at least 1") }
        let statistics = RankStatistics()
        let parallel: FixtureCheck.Outputs
        do {
            let executor = try CUDATensorParallel.executor(
                CUDATensorParallel.Options(
                    directory: modelPath, tpSize: tp, pageSize: 16,
                    kvCache: .pages(FixtureCheck.pagesNeeded(reference, pageSize: 16)), statistics: statistics))
            print("loaded on \(executor.deviceDescription)")
            parallel = try FixtureCheck.outputs(executor: executor, reference: reference)
        }
        let parallelResult = FixtureCheck.score(
            parallel, reference: reference, tolerance: tolerance, marginThreshold: margin)
        print("cuda tp\(tp)  \(parallelResult.summary)")
        let graphs = statistics.graphs
        for (rank, counters) in graphs.enumerated() { print("rank \(rank) \(counters.summary)") }

        let single: FixtureCheck.Outputs
        let singleGraphs: GraphStatistics
        do {
            let backend = try CUDABackend()
            let executor = try ErnieForward.load(
                directory: modelPath, backend: backend,
                kvPages: FixtureCheck.pagesNeeded(reference, pageSize: 16), pageSize: 16)
            single = try FixtureCheck.outputs(executor: executor, reference: reference)
            singleGraphs = backend.graphStatistics
        }
        let singleResult = FixtureCheck.score(
            single, reference: reference, tolerance: tolerance, marginThreshold: margin)
        print("cuda 1 GPU  \(singleResult.summary)")
        print("1 GPU \(singleGraphs.summary)")
        let difference = FixtureCheck.difference(parallel, single)
        print("tp\(tp) vs 1 GPU: \(difference.summary)")
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
        if tp == 1, !difference.identical { failures.append("one NCCL rank differs from the plain one-GPU path") }
        if failures.isEmpty {
            print("OK tp\(tp)")
        } else {
            print("FAIL tp\(tp): " + failures.joined(separator: "; "))
            throw ExitCode(1)
        }
    }

    /// `ThroughputBench` through the NCCL path, with every rank's graph counters.
    static func bench(
        modelPath: String, format: LoadFormat, tp: Int, options: ThroughputBench.Options, pageSize: Int,
        maxTokens: Int
    ) throws {
        let statistics = RankStatistics()
        let start = Date()
        let executor = try CUDATensorParallel.executor(
            CUDATensorParallel.Options(
                directory: modelPath, tpSize: tp, format: format, pageSize: pageSize,
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
