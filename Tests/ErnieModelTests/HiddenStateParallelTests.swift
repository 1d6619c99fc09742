import ErnieCPU
import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

/// `TensorParallelExecutor.captureHiddenStates` on the CPU (rank threads, CPU communicator): the residual stream of
/// a split model against transformers' per-layer hidden states and against the same model on one device.
///
/// Splitting only reorders float32 additions (row-parallel partial sums, experts of several ranks), so the split
/// stream is within 1e-5 of one device's relative to the point's largest value, and passes the same strict bounds
/// (1e-4) against transformers as the single-device `HiddenStateTests`.
@Suite(.timeLimit(.minutes(10))) struct HiddenStateParallelTests {
    static let cases: [ParallelCase] = [
        ParallelCase(model: "dense-f32", tp: 2), ParallelCase(model: "moe-hub-f32", tp: 2),
        ParallelCase(model: "moe-hub-f32", tp: 4, ep: 2),
    ]

    @Test(arguments: cases)
    func splitModelCapturesTheStreamOfOneDevice(_ c: ParallelCase) throws {
        let reference = try ModelFixtures.reference(c.model)
        let entry = try #require(reference.hiddenStates?.first, "\(c.model) has no hidden_states")
        let prompt = reference.prompts[entry.prompt]
        let split = try CPUTensorParallel.executor(
            directory: ModelFixtures.directory(c.model), tpSize: c.tp, epSize: c.ep, kvPages: 64, pageSize: 16)
        let got = try split.captureHiddenStates(prompt: prompt)
        let one = try ModelFixtures.executor(c.model).captureHiddenStates(prompt: prompt)
        #expect(Set(got.keys) == Set(HiddenStatePoint.all(layers: split.config.numHiddenLayers)))
        #expect(Set(got.keys) == Set(one.keys))
        for (point, snapshot) in one {
            let other = try #require(got[point])
            #expect(other.tokenIndices == snapshot.tokenIndices)
            let scale = snapshot.values.map(abs).max() ?? 1
            let error = ModelFixtures.maxAbsDifference(other.values, snapshot.values) / scale
            #expect(error < 1e-5, "\(c.testDescription) \(point): max |Δ| / max |one device| = \(error)")
        }
        let strict = HiddenStateTolerance(relL2Floor: 1e-4, maxAbsFloor: 1e-4, baselineFactor: 0)
        let comparison = try HiddenStateComparison(reference: entry, captured: got, tolerance: strict)
        #expect(comparison.passed, "\(comparison.table)")
    }

    @Test func badPromptsAreRefusedBeforeAnyRankRunsAndTheGroupStaysUsable() throws {
        let reference = try ModelFixtures.reference("dense-f32")
        let split = try CPUTensorParallel.executor(
            directory: ModelFixtures.directory("dense-f32"), tpSize: 2, kvPages: 2, pageSize: 16)
        #expect(throws: ModelError.self) { try split.captureHiddenStates(prompt: []) }
        #expect(throws: ModelError.self) { try split.captureHiddenStates(prompt: [Int32(split.config.vocabSize)]) }
        #expect(throws: ModelError.self) { try split.captureHiddenStates(prompt: [-1]) }
        #expect(throws: ModelError.self) { try split.captureHiddenStates(prompt: Array(repeating: 3, count: 33)) }
        let prompt = reference.prompts[1]
        let got = try split.captureHiddenStates(prompt: prompt)
        #expect(got[.embedding]?.tokenIndices == Array(0..<prompt.count))
    }
}
