import ErnieCPU
import ErnieModel
import Foundation
import Testing

/// A rank that meets its peers in one all-reduce per step, or fails on a chosen step.
private final class ScriptedRank: ParallelRankExecutor {
    let config: ModelConfig
    let kvLayout: KVCacheLayout
    let deviceDescription = "scripted"
    let communicator: CPUCommunicator
    let failingStep: Int?
    var steps = 0

    init(config: ModelConfig, pages: Int, communicator: CPUCommunicator, failingStep: Int?) {
        self.config = config
        kvLayout = KVCacheLayout(numPages: pages, pageSize: 4, numLayers: 1, numKVHeads: 1, headDim: 8)
        self.communicator = communicator
        self.failingStep = failingStep
    }

    func execute(_ batch: ForwardBatch, logits: [LogitsRequest]) throws -> [TokenResult] {
        steps += 1
        if steps == failingStep { throw ModelError.backend("scripted failure on rank \(communicator.rank)") }
        let x = try CPUBackend().tensor(rows: 1, cols: 1, values: [Float(communicator.rank + 1)])
        let sum = try communicator.allReduceSum(x).values[0]
        return logits.map { _ in TokenResult(token: Int32(sum), logprob: 0) }
    }

    func abortGroup(reason: String) {
        communicator.abort(reason: reason)
    }
}

@Suite(.timeLimit(.minutes(2))) struct TensorParallelExecutorTests {
    static func config() throws -> ModelConfig {
        try ModelConfig(contentsOf: ModelFixtures.directory("dense-f32"))
    }

    static let batch = ForwardBatch(
        tokens: [3], sequences: [.init(tokenOffset: 0, tokenCount: 1, startPosition: 0, pages: [0])], pageSize: 4)
    static let request = [LogitsRequest(tokenIndex: 0, sampling: .greedy, vocabLimit: 256)]

    @Test func aFailingRankFailsTheStepWithoutHangingAndBreaksTheGroup() throws {
        let config = try Self.config()
        let group = CPUCommunicatorGroup(worldSize: 3)
        let executor = try TensorParallelExecutor(worldSize: 3) { setup in
            ScriptedRank(
                config: config, pages: 4, communicator: try group.communicator(rank: setup.rank),
                failingStep: setup.rank == 1 ? 2 : nil)
        }
        // Step 1: every rank meets in the all-reduce; rank 0's answer carries the sum 1 + 2 + 3.
        #expect(try executor.execute(Self.batch, logits: Self.request).map(\.token) == [6])
        // Step 2: rank 1 fails; ranks 0 and 2 are released from the all-reduce by the abort.
        do {
            _ = try executor.execute(Self.batch, logits: Self.request)
            Issue.record("the failed step returned results")
        } catch ParallelError.rankFailed(let rank, let reason) {
            #expect(rank == 1)
            #expect(reason.contains("scripted failure on rank 1"))
        }
        #expect {
            _ = try executor.execute(Self.batch, logits: Self.request)
        } throws: { error in
            if case ParallelError.groupBroken = error { return true }
            return false
        }
    }

    @Test func aRankThatCannotStartStopsTheOthers() throws {
        let config = try Self.config()
        let group = CPUCommunicatorGroup(worldSize: 3)
        do {
            _ = try TensorParallelExecutor(worldSize: 3) { setup in
                if setup.rank == 2 { throw ModelError.backend("no device for rank 2") }
                // Ranks 0 and 1 wait here for rank 2, which never comes.
                let pages = try setup.agreeOnMinimum(10)
                return ScriptedRank(
                    config: config, pages: pages, communicator: try group.communicator(rank: setup.rank),
                    failingStep: nil)
            }
            Issue.record("the executor started without rank 2")
        } catch ParallelError.rankFailed(let rank, let reason) {
            #expect(rank == 2)
            #expect(reason.contains("no device for rank 2"))
        }
    }

    @Test func ranksAgreeOnTheSmallestKVCache() throws {
        let config = try Self.config()
        let group = CPUCommunicatorGroup(worldSize: 3)
        let executor = try TensorParallelExecutor(worldSize: 3) { setup in
            let pages = try setup.agreeOnMinimum([9, 5, 7][setup.rank])
            return ScriptedRank(
                config: config, pages: pages, communicator: try group.communicator(rank: setup.rank), failingStep: nil)
        }
        #expect(executor.kvLayout.numPages == 5)
        #expect(executor.deviceDescription == "3 × scripted, tensor-parallel")
    }

    @Test func ranksWithDifferentKVCachesAreRefused() throws {
        let config = try Self.config()
        let group = CPUCommunicatorGroup(worldSize: 2)
        #expect(throws: ParallelError.self) {
            _ = try TensorParallelExecutor(worldSize: 2) { setup in
                ScriptedRank(
                    config: config, pages: 4 + setup.rank, communicator: try group.communicator(rank: setup.rank),
                    failingStep: nil)
            }
        }
    }

    @Test func invalidBatchesAreRefusedBeforeTheRanksRun() throws {
        let executor = try CPUTensorParallel.executor(
            directory: ModelFixtures.directory("dense-f32"), tpSize: 2, kvPages: 4, pageSize: 4)
        let bad = ForwardBatch(
            tokens: [256], sequences: [.init(tokenOffset: 0, tokenCount: 1, startPosition: 0, pages: [0])],
            pageSize: 4)
        #expect(throws: ModelError.self) { _ = try executor.execute(bad, logits: Self.request) }
        // The group is still usable.
        #expect(try executor.execute(Self.batch, logits: Self.request).count == 1)
    }
}
