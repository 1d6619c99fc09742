import ErnieCPU
import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

@testable import ErnieCUDA

/// The transformers fixture models (Tests/Fixtures/models) end to end on the CUDA backend in bf16.
@Suite(.serialized, .enabled(if: TestDevice.available, "no CUDA device (GPU or emulator)"))
struct DeviceFixtureTests {
    @Test(.serialized, arguments: ["moe-hub-f32", "moe-fused-bf16-sharded", "dense-f32", "dense-hub-bf16-sharded"])
    func fixtureModelMatchesTransformers(name: String) throws {
        let directory = Fixtures.path("models/" + name)
        let referenceDirectory = ProcessInfo.processInfo.environment["ERNIE_FIXTURE_REFERENCE_DIR"].map {
            $0 + "/" + name
        }
        let reference = try FixtureCheck.Reference.load((referenceDirectory ?? directory) + "/reference.json")
        let result = try FixtureCheck.run(
            modelDirectory: directory, reference: reference, backend: try TestDevice.backend()
        )
        for comparison in result.hiddenStates { print("[\(name)]\n\(comparison.table)") }
        print("[\(name)] \(result.summary)")
        #expect(result.passed, "\(result.summary)")
        #expect(result.greedyMatched >= result.greedyCompared / 2)
        // Every fixture carries transformers' hidden states for one prompt: every point compared, within bf16 bounds.
        let entry = try #require(reference.hiddenStates?.first)
        #expect(result.hiddenStates.count == 1)
        #expect(result.hiddenStates.first?.rows.map(\.point) == entry.points.map(\.name))
        #expect(result.hiddenStates.allSatisfy { $0.passed })
    }

    /// The hidden-state observer on the GPU: per layer within bf16 error of the CPU backend (float32), on a prefill
    /// and on decode steps (CUDA graphs on: a host read ends a graph body early), without changing any result.
    @Test func observedStepsMatchTheCPUBackendAndChangeNothing() throws {
        let name = "moe-fused-bf16-sharded"
        let directory = Fixtures.path("models/" + name)
        let prompt = try FixtureCheck.Reference.load(directory + "/reference.json").prompts[2]
        let cpu = try ErnieForward.load(directory: directory, backend: CPUBackend(), kvPages: 8, pageSize: 16)
        let gpu = try ErnieForward.load(directory: directory, backend: try TestDevice.backend(), kvPages: 8, pageSize: 16)
        let expected = try cpu.captureHiddenStates(prompt: prompt)
        let got = try gpu.captureHiddenStates(prompt: prompt)
        #expect(Set(got.keys) == Set(HiddenStatePoint.all(layers: gpu.config.numHiddenLayers)))
        for (point, snapshot) in got {
            let reference = try #require(expected[point])
            #expect(snapshot.tokenIndices == reference.tokenIndices)
            // Relative L2 over all 19 rows: bf16 rounding gives ~1e-2 (one near-tied expert choice that flips in
            // bf16 moves one row by up to ~10%, which the L2 over all rows absorbs).
            let diff = zip(snapshot.values, reference.values).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            let scale = reference.values.reduce(Float(0)) { $0 + $1 * $1 }
            let relL2 = (diff / scale).squareRoot()
            #expect(relL2 < 4e-2, "\(point): ‖gpu − cpu‖ / ‖cpu‖ = \(relL2)")
        }

        let plain = try ErnieForward.load(
            directory: directory, backend: try TestDevice.backend(), kvPages: 8, pageSize: 16)
        let unobserved = try SequentialGenerator(executor: plain)
            .generate(prompt: prompt, sampling: .greedy, maxNewTokens: 6)
        var decodeRows: [Int] = []
        gpu.hiddenStateObserver = { snapshot in
            if snapshot.point == .layer(0) { decodeRows.append(snapshot.tokenIndices.count) }
            #expect(snapshot.values.count == snapshot.tokenIndices.count * snapshot.columns)
        }
        let observed = try SequentialGenerator(executor: gpu)
            .generate(prompt: prompt, sampling: .greedy, maxNewTokens: 6)
        #expect(observed == unobserved)
        #expect(decodeRows == [prompt.count, 1, 1, 1, 1, 1])
        gpu.hiddenStateObserver = nil
        let again = try SequentialGenerator(executor: gpu).generate(prompt: prompt, sampling: .greedy, maxNewTokens: 6)
        #expect(again == unobserved)
    }
}

/// A full-size fixture of scripts/gpu/make_fullsize_fixture.py (usually built with --override to shrink it) on the
/// CPU backend and on the device: `ERNIE_FULLSIZE_FIXTURE=/tmp/ernie-fullsize/layers-28`. Skipped without it.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["ERNIE_FULLSIZE_FIXTURE"] != nil))
struct FullSizeFixtureTests {
    static let directory = ProcessInfo.processInfo.environment["ERNIE_FULLSIZE_FIXTURE"] ?? ""

    @Test func cpuBackendMatchesTransformersLayerByLayer() throws {
        let reference = try FixtureCheck.Reference.load(Self.directory + "/reference.json")
        #expect(reference.hiddenStates?.isEmpty == false)
        // float32 against float32: every point far inside the bf16 bounds.
        let strict = HiddenStateTolerance(relL2Floor: 1e-4, maxAbsFloor: 1e-4, baselineFactor: 0)
        let result = try FixtureCheck.run(
            modelDirectory: Self.directory, reference: reference, backend: CPUBackend(),
            tolerance: .init(mean: 1e-3, max: 1e-2), hiddenTolerance: strict)
        for comparison in result.hiddenStates { print(comparison.table) }
        print("cpu  \(result.summary)")
        #expect(result.passed)
    }

    @Test(.enabled(if: TestDevice.available, "no CUDA device (GPU or emulator)"))
    func deviceMatchesTransformersLayerByLayer() throws {
        let reference = try FixtureCheck.Reference.load(Self.directory + "/reference.json")
        let result = try FixtureCheck.run(
            modelDirectory: Self.directory, reference: reference, backend: try TestDevice.backend())
        for comparison in result.hiddenStates { print(comparison.table) }
        print("cuda  \(result.summary)")
        #expect(result.passed)
    }
}
