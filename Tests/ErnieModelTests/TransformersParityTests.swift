import ErnieCPU
import ErnieModel
import Foundation
import Testing

/// The engine against transformers on the fixture models: prompt log-probabilities and greedy continuations.
@Suite struct TransformersParityTests {
    @Test(arguments: ModelFixtures.names)
    func promptLogprobsMatchTransformers(name: String) throws {
        let reference = try ModelFixtures.reference(name)
        let generator = SequentialGenerator(executor: try ModelFixtures.executor(name))
        var worst: Float = 0
        for (prompt, expected) in zip(reference.prompts, reference.promptLogprobs) {
            let got = try generator.promptLogprobs(prompt)
            #expect(got.count == expected.count)
            worst = max(worst, ModelFixtures.maxAbsDifference(got, expected))
        }
        print("[\(name)] max |prompt logprob − transformers| = \(worst)")
        #expect(worst < 1e-3)
    }

    @Test(arguments: ModelFixtures.names)
    func greedyContinuationsMatchTransformers(name: String) throws {
        let reference = try ModelFixtures.reference(name)
        let generator = SequentialGenerator(executor: try ModelFixtures.executor(name))
        for (prompt, expected) in zip(reference.prompts, reference.greedy) {
            let output = try generator.generate(prompt: prompt, sampling: .greedy, maxNewTokens: expected.count)
            #expect(output.tokens == expected, "prompt of \(prompt.count) tokens")
            #expect(output.finishReason == .length)
        }
    }

    @Test(arguments: ModelFixtures.names)
    func configReadsAsTransformersReadsIt(name: String) throws {
        let view = try ModelFixtures.reference(name).transformersView
        let config = try ModelConfig(contentsOf: ModelFixtures.directory(name))
        #expect(config.hiddenSize == view.hiddenSize)
        #expect(config.numHiddenLayers == view.numHiddenLayers)
        #expect(config.numAttentionHeads == view.numAttentionHeads)
        #expect(config.numKeyValueHeads == view.numKeyValueHeads)
        #expect(config.headDim == view.headDim)
        #expect(config.numAttentionHeads * config.headDim == view.qProjOut)
        #expect(config.vocabSize == view.vocabSize)
        #expect(config.intermediateSize == view.intermediateSize)
        #expect(config.ropeTheta == view.ropeTheta)
        #expect(abs(Double(config.rmsNormEps) - view.rmsNormEps) < 1e-12)
        #expect(config.maxPositionEmbeddings == view.maxPositionEmbeddings)
        #expect(config.useBias == view.useBias)
        #expect(config.tieWordEmbeddings == view.tieWordEmbeddings)
        #expect(config.eosTokenIDs == view.eosTokenId)
        #expect((0..<config.numHiddenLayers).filter(config.isMoELayer) == view.moeLayers)
        if let moe = config.moe {
            #expect(moe.numExperts == view.moeNumExperts)
            #expect(moe.topK == view.moeK)
            #expect(moe.intermediateSize == view.moeIntermediateSize)
            #expect(moe.numSharedExperts == view.moeNumSharedExperts)
            #expect(moe.intermediateSize * moe.numSharedExperts == view.sharedWidth)
            #expect(Double(moe.normMin) == Double(Float(view.moeNormMin ?? -1)))
        } else {
            #expect(view.moeLayers.isEmpty)
        }
    }

    @Test func mtpTensorsAreSkippedAndNothingElseIsLeftOver() throws {
        for name in ModelFixtures.names {
            let directory = ModelFixtures.directory(name)
            let config = try ModelConfig(contentsOf: directory)
            let loaded = try WeightLoader.load(
                config: config, checkpoint: SafetensorsCheckpoint(directory: directory), backend: CPUBackend()
            )
            let expected = name == "moe-hub-f32"
                ? ["model.mtp_emb_norm.0.weight", "model.mtp_hidden_norm.0.weight", "model.mtp_linear_proj.0.weight"]
                : []
            #expect(loaded.unusedTensors == expected, "\(name)")
        }
    }

    /// The fixtures would not test the correction bias if it never changed a routing decision.
    @Test func correctionBiasChangesRoutingInTheMoEFixtures() throws {
        for name in ModelFixtures.names where name.hasPrefix("moe") {
            let changed = try #require(try ModelFixtures.reference(name).routingChangedByBias)
            #expect(changed > 0.1, "\(name)")
        }
    }
}
