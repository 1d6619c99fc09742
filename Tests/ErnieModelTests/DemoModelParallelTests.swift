import ErnieCPU
import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

/// The bundled demo model (8 layers, 6 query / 2 KV heads, 8 experts top-4 with 2 shared) split over two ranks,
/// with tensor-parallel or expert-parallel experts, against transformers (Tests/Fixtures/models/demo-reference.json,
/// written by scripts/fixtures/models/make_demo_reference.py) and against one device.
@Suite(.serialized, .timeLimit(.minutes(10))) struct DemoModelParallelTests {
    static let directory = Fixtures.checkout + "/models/ernie-demo"

    static func reference() throws -> ModelReference.Tokens {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("models/demo-reference.json")))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ModelReference.Tokens.self, from: data)
    }

    @Test(arguments: [(2, 1), (2, 2)])
    func demoModelSplitOverTwoRanksMatchesTransformersAndOneDevice(tp: Int, ep: Int) throws {
        let reference = try Self.reference()
        let single = SequentialGenerator(
            executor: try ErnieForward.load(directory: Self.directory, backend: CPUBackend(), kvPages: 16, pageSize: 16))
        let split = SequentialGenerator(
            executor: try CPUTensorParallel.executor(
                directory: Self.directory, tpSize: tp, epSize: ep, kvPages: 16, pageSize: 16))
        var worstSingle: Float = 0
        var worstTransformers: Float = 0
        for (p, prompt) in reference.prompts.enumerated() {
            let one = try single.promptLogprobs(prompt)
            let got = try split.promptLogprobs(prompt)
            worstSingle = max(worstSingle, ModelFixtures.maxAbsDifference(got, one))
            worstTransformers = max(worstTransformers, ModelFixtures.maxAbsDifference(got, reference.promptLogprobs[p]))
            let expected = reference.greedy[p]
            let a = try single.generate(prompt: prompt, sampling: .greedy, maxNewTokens: expected.count)
            let b = try split.generate(prompt: prompt, sampling: .greedy, maxNewTokens: expected.count)
            #expect(b.tokens == expected, "prompt \(p)")
            #expect(b.tokens == a.tokens, "prompt \(p)")
            worstSingle = max(worstSingle, ModelFixtures.maxAbsDifference(b.logprobs, a.logprobs))
        }
        print("[demo tp\(tp) ep\(ep)] max |Δ logprob| vs one device \(worstSingle), vs transformers \(worstTransformers)")
        #expect(worstSingle <= TensorParallelTests.singleDeviceTolerance)
        #expect(worstTransformers < TensorParallelTests.transformersTolerance)
    }
}

extension ModelReference {
    /// The token parts of a reference file (the demo's has no config view).
    struct Tokens: Decodable {
        var prompts: [[Int32]]
        var promptLogprobs: [[Float]]
        var greedy: [[Int32]]
    }
}
