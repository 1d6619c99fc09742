import ErnieModel
import ErnieTestSupport
import Foundation
import Synchronization
import Testing

@testable import ErnieCUDA

/// Whether a tensor-parallel group of two can run: two CUDA devices (GPUs, or the emulator with
/// `ERNIE_EMU_DEVICES=2`) and an NCCL library (the real one, or the emulator's).
enum TestGroup {
    static let available: Bool = {
        guard TestDevice.available, let count = try? CUDADriver.shared().deviceCount(), count >= 2 else {
            return false
        }
        return (try? NCCLLibrary.shared()) != nil
    }()
}

/// Tensor parallelism on the CUDA backend through NCCL: whole models against transformers and against one device
/// (decode graphs on, all-reduces captured in them), and the ranks' agreement on graph decisions.
@Suite(
    .serialized, .timeLimit(.minutes(10)),
    .enabled(if: TestGroup.available, "needs 2 CUDA devices (or the emulator with ERNIE_EMU_DEVICES=2) and NCCL"))
struct DeviceTensorParallelTests {
    static let model = "dense-f32"

    static func outputs(tp: Int?, epSize: Int = 1, model: String = model, reference: FixtureCheck.Reference) throws
        -> (FixtureCheck.Outputs, [GraphStatistics])
    {
        let directory = Fixtures.path("models/" + model)
        let pages = FixtureCheck.pagesNeeded(reference, pageSize: 16)
        guard let tp else {
            let backend = try TestDevice.backend()
            let executor = try ErnieForward.load(directory: directory, backend: backend, kvPages: pages, pageSize: 16)
            return (try FixtureCheck.outputs(executor: executor, reference: reference), [backend.graphStatistics])
        }
        let statistics = RankStatistics()
        let executor = try CUDATensorParallel.executor(
            CUDATensorParallel.Options(
                directory: directory, tpSize: tp, epSize: epSize, pageSize: 16, kvCache: .pages(pages),
                backend: .init(maxTokensPerStep: 512), statistics: statistics))
        return (try FixtureCheck.outputs(executor: executor, reference: reference), statistics.graphs)
    }

    @Test func twoRanksMatchTransformersAndOneDevice() throws {
        let reference = try FixtureCheck.Reference.load(Fixtures.path("models/\(Self.model)/reference.json"))
        let (split, graphs) = try Self.outputs(tp: 2, reference: reference)
        let (whole, wholeGraphs) = try Self.outputs(tp: nil, reference: reference)
        let result = FixtureCheck.score(split, reference: reference)
        #expect(result.passed, "\(result.summary)")
        #expect(result.greedyMatched >= result.greedyCompared / 2)
        // Decode steps ran through graphs that hold the all-reduces, the same way on both ranks and on one device.
        #expect(graphs.count == 2 && graphs[0] == graphs[1], "\(graphs.map(\.summary))")
        #expect(graphs[0].replays > 0 && graphs[0].replays == wholeGraphs[0].replays, "\(graphs[0].summary)")
        #expect(graphs[0].groupDisagreements == 0 && graphs[0].fallbacks == 0)
        // bf16 partial sums added in another order: close to one device, not equal.
        let difference = FixtureCheck.difference(split, whole)
        #expect(difference.maxLogprob < 0.1, "\(difference.summary)")
    }

    /// MoE models over two ranks with the experts tensor-parallel (each rank a slice of every expert) and expert-parallel
    /// (`--ep-size 2`: each rank half of the experts, whole): both within the fixture's bounds of transformers and
    /// close to one device (the 6-expert fixture has a shared expert, the 8-expert one none).
    @Test(arguments: ["moe-hub-f32", "moe-fused-bf16-sharded"]) func moeExpertsTensorOrExpertParallel(
        model: String
    ) throws {
        let reference = try FixtureCheck.Reference.load(Fixtures.path("models/\(model)/reference.json"))
        let (whole, _) = try Self.outputs(tp: nil, model: model, reference: reference)
        for epSize in [1, 2] {
            let (split, _) = try Self.outputs(tp: 2, epSize: epSize, model: model, reference: reference)
            let result = FixtureCheck.score(split, reference: reference)
            #expect(result.passed, "\(model) ep \(epSize): \(result.summary)")
            let difference = FixtureCheck.difference(split, whole)
            #expect(difference.maxLogprob < 0.3, "\(model) ep \(epSize): \(difference.summary)")
        }
    }

    @Test func oneNCCLRankEqualsThePlainPathBitForBit() throws {
        let reference = try FixtureCheck.Reference.load(Fixtures.path("models/\(Self.model)/reference.json"))
        let (split, graphs) = try Self.outputs(tp: 1, reference: reference)
        let (whole, wholeGraphs) = try Self.outputs(tp: nil, reference: reference)
        let difference = FixtureCheck.difference(split, whole)
        #expect(difference.identical, "\(difference.summary)")
        #expect(graphs == wholeGraphs, "\(graphs.map(\.summary)) vs \(wholeGraphs.map(\.summary))")
    }

    /// The residual stream of a two-rank group: within the fixture's hidden-state bounds of transformers, close to
    /// one device's; one NCCL rank captures exactly one device's stream.
    @Test func hiddenStatesOfTheGroupMatchTransformersAndOneDevice() throws {
        let reference = try FixtureCheck.Reference.load(Fixtures.path("models/\(Self.model)/reference.json"))
        let entry = try #require(reference.hiddenStates?.first)
        let prompt = reference.prompts[entry.prompt]
        let directory = Fixtures.path("models/" + Self.model)
        let pages = FixtureCheck.pagesNeeded(reference, pageSize: 16)
        let backend = try TestDevice.backend()
        let single = try ErnieForward.load(directory: directory, backend: backend, kvPages: pages, pageSize: 16)
        let whole = try single.captureHiddenStates(prompt: prompt)
        for tp in [2, 1] {
            let executor = try CUDATensorParallel.executor(
                CUDATensorParallel.Options(
                    directory: directory, tpSize: tp, pageSize: 16, kvCache: .pages(pages),
                    backend: .init(maxTokensPerStep: 512)))
            let comparisons = try FixtureCheck.hiddenStates(
                reference: reference, tolerance: HiddenStateTolerance(), capture: executor.captureHiddenStates)
            #expect(comparisons.count == reference.hiddenStates?.count)
            for comparison in comparisons { #expect(comparison.passed, "tp\(tp)\n\(comparison.table)") }
            let split = try executor.captureHiddenStates(prompt: prompt)
            #expect(Set(split.keys) == Set(whole.keys))
            for (point, snapshot) in whole {
                let other = try #require(split[point])
                if tp == 1 {
                    #expect(other.values == snapshot.values, "tp1 \(point)")
                } else {
                    // bf16 partial sums added in another order.
                    let scale = snapshot.values.map(abs).max() ?? 1
                    let error = zip(other.values, snapshot.values).map { abs($0 - $1) }.max() ?? .infinity
                    #expect(error / scale < 0.05, "tp2 \(point): max |Δ| / max |one device| = \(error / scale)")
                }
            }
        }
    }

    @Test func groupsThatCannotBeBuiltAreRefused() throws {
        let directory = Fixtures.path("models/" + Self.model)
        func options(tp: Int, ep: Int = 1, devices: [Int]? = nil) -> CUDATensorParallel.Options {
            CUDATensorParallel.Options(
                directory: directory, tpSize: tp, epSize: ep, devices: devices, pageSize: 16, kvCache: .pages(4))
        }
        // 4 query heads do not split 3 ways.
        #expect(throws: ParallelError.self) { _ = try CUDATensorParallel.executor(options(tp: 3, devices: [0, 1, 0])) }
        #expect(throws: CUDAError.self) { _ = try CUDATensorParallel.executor(options(tp: 2, devices: [0, 0])) }
        #expect(throws: CUDAError.self) { _ = try CUDATensorParallel.executor(options(tp: 2, devices: [0, 4096])) }
        // Expert groups must divide the ranks (and the experts: 6 do not split 4 ways).
        let moe = Fixtures.path("models/moe-hub-f32")
        #expect(throws: ParallelError.self) {
            _ = try CUDATensorParallel.executor(
                CUDATensorParallel.Options(directory: moe, tpSize: 2, epSize: 3, pageSize: 16, kvCache: .pages(4)))
        }
    }

    // MARK: Graph agreement

    /// One rank's decode steps: embed → linear(its weight) → all-reduce → read back. Rank 1 switches to another
    /// weight at `switchStep`, so its replayed graph stops matching while rank 0's still matches.
    static func rankSteps(rank: Int, group: NCCLGroup, switchStep: Int, steps: Int) throws
        -> (outputs: [[Float]], statistics: GraphStatistics)
    {
        var perf = PerfOptions()
        perf.graphs = true
        let backend = try CUDABackend(configuration: .init(deviceOrdinal: rank, maxTokensPerStep: 64, perf: perf))
        try backend.allocateKVCache(KVCacheLayout(numPages: 8, pageSize: 16, numLayers: 1, numKVHeads: 1, headDim: 64))
        let communicator = try NCCLCommunicator(group: group, rank: rank, backend: backend)
        let table = try backend.makeWeight(
            TestData.tensor("table", [8, 64], TestData.values(8 * 64, seed: 1)), precision: .standard)
        let weights = try (0..<2).map { variant in
            try backend.makeWeight(
                TestData.tensor("w", [48, 64], TestData.values(48 * 64, seed: UInt64(10 + 2 * rank + variant),
                                                                scale: 0.2)),
                precision: .standard)
        }
        var outputs: [[Float]] = []
        for step in 0..<steps {
            let weight = weights[rank == 1 && step >= switchStep ? 1 : 0]
            try backend.beginStep(DeviceGraphTests.decodeBatch(3, position: step))
            let x = try backend.embed(table)
            let y = try communicator.allReduceSum(try backend.linear(x, weight, bias: nil))
            outputs.append(try backend.toHost(y))
            try backend.endStep()
        }
        return (outputs, backend.graphStatistics)
    }

    /// What the group's all-reduce must give: each rank's product on one device, summed and rounded to bf16.
    static func expected(switchStep: Int, steps: Int) throws -> [[Float]] {
        let backend = try DeviceGraphTests.backend(graphs: false)
        let table = try backend.makeWeight(
            TestData.tensor("table", [8, 64], TestData.values(8 * 64, seed: 1)), precision: .standard)
        func product(_ seed: UInt64, _ step: Int) throws -> [Float] {
            let w = try backend.makeWeight(
                TestData.tensor("w", [48, 64], TestData.values(48 * 64, seed: seed, scale: 0.2)), precision: .standard)
            try backend.beginStep(DeviceGraphTests.decodeBatch(3, position: step))
            let out = try backend.toHost(try backend.linear(try backend.embed(table), w, bias: nil))
            try backend.endStep()
            return out
        }
        return try (0..<steps).map { step in
            let a = try product(10, step)
            let b = try product(step >= switchStep ? 13 : 12, step)
            return zip(a, b).map { bf($0 + $1) }
        }
    }

    @Test func aReplayThatStopsMatchingOnOneRankIsRerunOnEveryRank() throws {
        let (switchStep, steps) = (3, 6)
        let group = try NCCLGroup(worldSize: 2)
        let box = RankResults()
        let done = DispatchSemaphore(value: 0)
        for rank in 0..<2 {
            let thread = Thread {
                let result = Result(catching: {
                    try Self.rankSteps(rank: rank, group: group, switchStep: switchStep, steps: steps)
                })
                box.results.withLock { $0[rank] = result.map { ($0.outputs, $0.statistics) } }
                done.signal()
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        done.wait()
        done.wait()
        let expected = try Self.expected(switchStep: switchStep, steps: steps)
        for rank in 0..<2 {
            let (outputs, statistics) = try #require(box.results.withLock { $0[rank] }).get()
            for step in 0..<steps {
                #expect(outputs[step] == expected[step], "rank \(rank) step \(step)")
            }
            // Step 0 captured, 1–2 replayed, 3 replayed then re-run on both ranks (rank 1's launches differ), 4
            // captured afresh, 5 replayed.
            #expect(statistics.captures == 2 && statistics.replays == 3, "rank \(rank): \(statistics.summary)")
            #expect(statistics.fallbacks == 1 && statistics.groupDisagreements == 1, "\(statistics.summary)")
        }
    }
}

/// What each rank thread of a test produced.
private final class RankResults: Sendable {
    let results = Mutex<[Int: Result<([[Float]], GraphStatistics), any Error>]>([:])
}
