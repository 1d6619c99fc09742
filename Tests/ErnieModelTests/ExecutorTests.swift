import ErnieCPU
import ErnieModel
import Foundation
import Testing

@Suite struct ExecutorTests {
    static func executor() throws -> ErnieForward<CPUBackend> {
        try ModelFixtures.executor("dense-f32", pages: 4, pageSize: 4)
    }

    static func expectInvalid(
        _ batch: ForwardBatch, logits: [LogitsRequest] = [], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let executor = try executor()
        do {
            _ = try executor.execute(batch, logits: logits)
            Issue.record("invalid batch accepted", sourceLocation: sourceLocation)
        } catch ModelError.invalidBatch {
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    static func seq(_ offset: Int, _ count: Int, start: Int = 0, pages: [Int32] = [0, 1]) -> ForwardBatch.Sequence {
        .init(tokenOffset: offset, tokenCount: count, startPosition: start, pages: pages)
    }

    @Test func invalidBatchesAreRejectedWithErrors() throws {
        try Self.expectInvalid(ForwardBatch(tokens: [1, 256], sequences: [Self.seq(0, 2)], pageSize: 4))  // vocab
        try Self.expectInvalid(ForwardBatch(tokens: [1, -1], sequences: [Self.seq(0, 2)], pageSize: 4))
        try Self.expectInvalid(ForwardBatch(tokens: [1, 2], sequences: [Self.seq(0, 2)], pageSize: 8))  // page size
        try Self.expectInvalid(ForwardBatch(tokens: [1, 2], sequences: [Self.seq(0, 2, pages: [9])], pageSize: 4))
        try Self.expectInvalid(ForwardBatch(tokens: [1, 2], sequences: [Self.seq(0, 2, start: 7, pages: [0])],
                                            pageSize: 4))  // pages do not cover positions
        try Self.expectInvalid(ForwardBatch(tokens: [1, 2], sequences: [Self.seq(0, 1)], pageSize: 4))  // uncovered
        try Self.expectInvalid(ForwardBatch(tokens: [1, 2], sequences: [Self.seq(0, 2), Self.seq(1, 1, start: 3)],
                                            pageSize: 4))  // overlap
        try Self.expectInvalid(ForwardBatch(tokens: [1, 2], sequences: [Self.seq(0, 1), Self.seq(1, 1)],
                                            pageSize: 4))  // same KV slot written twice
        try Self.expectInvalid(ForwardBatch(tokens: [1, 2], sequences: [Self.seq(1, 5)], pageSize: 4))
        try Self.expectInvalid(ForwardBatch(tokens: [1, 2], sequences: [Self.seq(Int.max, 2)], pageSize: 4))
        try Self.expectInvalid(ForwardBatch(tokens: [1, 2], sequences: [Self.seq(0, 2, start: -1)], pageSize: 4))
        try Self.expectInvalid(
            ForwardBatch(tokens: [1, 2], sequences: [Self.seq(0, 2)], pageSize: 4),
            logits: [LogitsRequest(tokenIndex: 2, sampling: .greedy, vocabLimit: 256)]
        )
    }

    @Test func executorStillWorksAfterARejectedBatch() throws {
        let executor = try Self.executor()
        #expect(throws: ModelError.self) {
            try executor.execute(ForwardBatch(tokens: [999], sequences: [Self.seq(0, 1)], pageSize: 4), logits: [])
        }
        let result = try executor.execute(
            ForwardBatch(tokens: [3, 4], sequences: [Self.seq(0, 2)], pageSize: 4),
            logits: [LogitsRequest(tokenIndex: 1, sampling: .greedy, vocabLimit: 256)]
        )
        #expect(result.count == 1 && result[0].token != nil)
    }

    @Test func kvCacheLayoutFollowsTheConstructor() throws {
        let executor = try ModelFixtures.executor("moe-hub-f32", pages: 12, pageSize: 8)
        #expect(executor.kvLayout == KVCacheLayout(numPages: 12, pageSize: 8, numLayers: 4, numKVHeads: 2, headDim: 20))
        #expect(executor.deviceDescription.hasPrefix("CPU"))
        #expect(throws: ModelError.self) { try ModelFixtures.executor("moe-hub-f32", pages: 0, pageSize: 8) }
    }

    @Test func promptLongerThanTheCacheIsAnError() throws {
        let generator = SequentialGenerator(executor: try Self.executor())
        #expect(throws: ModelError.self) {
            try generator.generate(prompt: [Int32](repeating: 5, count: 20), sampling: .greedy, maxNewTokens: 4)
        }
    }

    @Test func generationStopsOnAStopToken() throws {
        let reference = try ModelFixtures.reference("dense-f32")
        let generator = SequentialGenerator(executor: try ModelFixtures.executor("dense-f32"))
        let expected = reference.greedy[1]
        let stop = expected[5]
        let output = try generator.generate(prompt: reference.prompts[1], sampling: .greedy, maxNewTokens: 20,
                                            stopTokens: [stop])
        let firstStop = try #require(expected.firstIndex(of: stop))
        #expect(output.tokens == Array(expected[...firstStop]))
        #expect(output.finishReason == .stop(stop))
    }

    @Test func weightsBeyondTheMemoryLimitAreAnError() throws {
        do {
            _ = try ErnieForward.load(directory: ModelFixtures.directory("dense-f32"),
                                      backend: CPUBackend(memoryLimit: 100_000), kvPages: 4, pageSize: 4)
            Issue.record("weights beyond the memory limit were loaded")
        } catch let ModelError.backend(message) {
            #expect(message.contains("does not fit"))
        }
        let backend = CPUBackend()
        _ = try ErnieForward.load(directory: ModelFixtures.directory("dense-f32"), backend: backend, kvPages: 4,
                                  pageSize: 4)
        // Every weight widened to float32; the tied/untied head counted once.
        let counts = WeightLoader.parameterCounts(config: try ModelConfig(contentsOf: ModelFixtures.directory("dense-f32")))
        #expect(backend.weightBytes == counts.total * 4)
    }
}
