import ErnieCPU
import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

/// How the real ERNIE-4.5 configurations split, and the messages for splits that do not work.
@Suite struct ParallelLayoutTests {
    static func config(_ name: String) throws -> ModelConfig {
        try ModelConfig(contentsOf: Fixtures.checkout + "/models/configs/" + name)
    }

    static func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func ernie21BSplitsOverTwoOrFourRanks() throws {
        let c = try Self.config("ERNIE-4.5-21B-A3B-PT")
        #expect(ParallelLayout.supportedTensorParallelSizes(config: c, upTo: 16) == [1, 2, 4])
        let r1 = try ParallelLayout(config: c, rank: 1, tpSize: 2)
        #expect(r1.headRange == 10..<20)
        #expect(r1.kvHeadRange == 2..<4)
        #expect(r1.expertRange == 0..<64)
        #expect(r1.expertWidthRange == 768..<1536)
        #expect(r1.sharedWidthRange == 1536..<3072)
        #expect(r1.denseWidthRange == 6144..<12288)
        #expect(r1.vocabRange == 51712..<103424)
        #expect(!r1.holdsRowParallelBias)
        let r3 = try ParallelLayout(config: c, rank: 3, tpSize: 4)
        #expect(r3.headRange == 15..<20)
        #expect(r3.kvHeadRange == 3..<4)
        // Expert parallelism: 64 experts in two groups of two ranks, each expert's width split in two.
        let e = try ParallelLayout(config: c, rank: 3, tpSize: 4, epSize: 2)
        #expect(e.expertRange == 32..<64)
        #expect(e.expertWidthRange == 768..<1536)
        #expect(e.sharedWidthRange == 2304..<3072)
    }

    @Test func ernie21BRejectsEightRanksNamingTheHeadCount() throws {
        let c = try Self.config("ERNIE-4.5-21B-A3B-PT")
        let text = Self.message { try ParallelLayout.validate(config: c, tpSize: 8, epSize: 1) }
        #expect(text?.contains("num_attention_heads 20 is not divisible by --tp 8") == true, "\(text ?? "accepted")")
        #expect(text?.contains("tensor-parallel sizes this model supports: 1, 2, 4") == true)
        let ep = Self.message { try ParallelLayout.validate(config: c, tpSize: 2, epSize: 4) }
        #expect(ep?.contains("--ep-size 4 must divide --tp 2") == true, "\(ep ?? "accepted")")
    }

    @Test func ernie300BSplitsOverEightRanksWithOrWithoutExpertParallelism() throws {
        let c = try Self.config("ERNIE-4.5-300B-A47B-PT")
        #expect(ParallelLayout.supportedTensorParallelSizes(config: c, upTo: 8) == [1, 2, 4, 8])
        let r7 = try ParallelLayout(config: c, rank: 7, tpSize: 8)
        #expect(r7.headRange == 56..<64)
        #expect(r7.kvHeadRange == 7..<8)
        #expect(r7.expertWidthRange == 3136..<3584)
        #expect(r7.vocabShardRows == 12928)
        let e7 = try ParallelLayout(config: c, rank: 7, tpSize: 8, epSize: 8)
        #expect(e7.expertRange == 56..<64)
        #expect(e7.expertWidthRange == 0..<3584)
        #expect(e7.sharedWidthRange == 0..<0)  // the 300B model has no shared experts
    }

    @Test func kvHeadsAreReplicatedWhenThereAreMoreRanks() throws {
        // 4 query heads over 1 KV head (moe-fused fixture): every rank holds KV head 0.
        let c = try ModelConfig(contentsOf: ModelFixtures.directory("moe-fused-bf16-sharded"))
        for rank in 0..<4 {
            let l = try ParallelLayout(config: c, rank: rank, tpSize: 4)
            #expect(l.headRange == rank..<(rank + 1))
            #expect(l.kvHeadRange == 0..<1)
        }
        // 4 query / 2 KV heads over 4 ranks: ranks 0-1 read KV head 0, ranks 2-3 KV head 1.
        let d = try ModelConfig(contentsOf: ModelFixtures.directory("dense-f32"))
        #expect(try (0..<4).map { try ParallelLayout(config: d, rank: $0, tpSize: 4).kvHeadRange.lowerBound }
            == [0, 0, 1, 1])
    }

    @Test func vocabularyShardsArePaddedToEqualSize() throws {
        let c = try ModelConfig(contentsOf: ModelFixtures.directory("moe-hub-f32"))  // vocab 300 over 4: 75 each
        let l = try ParallelLayout(config: c, rank: 2, tpSize: 4)
        #expect(l.vocabShardRows == 75)
        #expect(l.vocabShardWidths == [75, 75, 75, 75])
        let odd = try ModelConfig(json: Data(TensorParallelTests.dummyConfig.utf8))  // vocab 203 over 4
        let last = try ParallelLayout(config: odd, rank: 3, tpSize: 4)
        #expect(last.vocabShardRows == 51)
        #expect(last.vocabShardWidths == [51, 51, 51, 50])
        #expect(last.vocabRange == 153..<203)
        // The shard's weight has the padded row count; the sum of the shards' real rows is the vocabulary.
        let counts = (0..<4).map { rank in
            WeightLoader.parameterCounts(config: odd, layout: try? ParallelLayout(config: odd, rank: rank, tpSize: 4))
        }
        let whole = WeightLoader.parameterCounts(config: odd)
        #expect(counts.allSatisfy { $0.total < whole.total })
    }

    @Test func unsupportedSplitsAreRefusedWithTheOffendingField() throws {
        let hub = try ModelConfig(contentsOf: ModelFixtures.directory("dense-hub-bf16-sharded"))
        #expect(Self.message { try ParallelLayout.validate(config: hub, tpSize: 4, epSize: 1) }?
            .contains("num_attention_heads 2 is not divisible by --tp 4") == true)
        #expect(Self.message { try ParallelLayout.validate(config: hub, tpSize: 2, epSize: 2) }?
            .contains("needs a MoE model") == true)
        let moe = try ModelConfig(contentsOf: ModelFixtures.directory("moe-hub-f32"))  // 6 experts
        #expect(Self.message { try ParallelLayout.validate(config: moe, tpSize: 4, epSize: 4) }?
            .contains("moe_num_experts 6 is not divisible by --ep-size 4") == true)
        #expect(Self.message { try ParallelLayout.validate(config: moe, tpSize: 0, epSize: 1) } != nil)
        #expect(throws: ParallelError.self) {
            _ = try CPUTensorParallel.executor(
                directory: ModelFixtures.directory("dense-hub-bf16-sharded"), tpSize: 4, kvPages: 4, pageSize: 16)
        }
    }
}
