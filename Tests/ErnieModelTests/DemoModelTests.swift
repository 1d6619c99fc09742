import ErnieCPU
import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

/// The bundled demo model (models/ernie-demo) on the CPU backend against transformers (float32): prompt
/// log-probabilities and greedy continuations of five chat prompts.
@Suite struct DemoModelTests {
    @Test func promptLogprobsMatchTransformers() throws {
        let reference = try DemoModelFixture.reference()
        let generator = SequentialGenerator(executor: try DemoModelFixture.executor())
        var worst: Float = 0
        var count = 0
        for (index, item) in reference.cases.enumerated() {
            let got = try generator.promptLogprobs(item.promptIds.map { Int32($0) })
            #expect(got.count == item.promptLogprobs.count, "case \(index)")
            #expect(got.count == item.promptIds.count - 1, "case \(index)")
            let error = ModelFixtures.maxAbsDifference(got, item.promptLogprobs)
            #expect(error < 1e-3, "case \(index): max |Δ logprob| \(error)")
            worst = max(worst, error)
            count += got.count
        }
        print("[demo model] prompt logprobs: max |ours − transformers| = \(worst) over \(count) tokens")
        #expect(count > 100)
    }

    @Test func greedyContinuationsMatchTransformers() throws {
        let reference = try DemoModelFixture.reference()
        #expect(reference.greedyTokens >= 32)
        let generator = SequentialGenerator(executor: try DemoModelFixture.executor())
        var worst: Float = 0
        for (index, item) in reference.cases.enumerated() {
            #expect(item.greedy.count == reference.greedyTokens)
            let output = try generator.generate(
                prompt: item.promptIds.map { Int32($0) }, sampling: .greedy, maxNewTokens: item.greedy.count)
            #expect(output.tokens == item.greedy, "case \(index): greedy tokens differ from transformers'")
            #expect(output.finishReason == .length)
            if output.tokens == item.greedy {
                let error = ModelFixtures.maxAbsDifference(output.logprobs, item.greedyLogprobs)
                #expect(error < 1e-3, "case \(index): max |Δ logprob| of the chosen tokens \(error)")
                worst = max(worst, error)
            }
        }
        print("[demo model] greedy: \(reference.cases.count) × \(reference.greedyTokens) tokens identical; "
            + "max |Δ logprob| of the chosen tokens \(worst)")
    }

    /// Without `ERNIE_DEMO_MODEL`, a binary built from this checkout finds the checkout's demo model.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ERNIE_DEMO_MODEL"] == nil))
    func demoModelIsFoundInTheCheckout() throws {
        let found = try #require(DemoModel.path())
        #expect(URL(fileURLWithPath: found).standardized.path
            == URL(fileURLWithPath: DemoModelFixture.modelDirectory).standardized.path)
    }
}
