import ErnieModel
import Foundation
import Testing

@testable import ErnieCUDA

/// Decode steps through CUDA graphs: record → capture → replay, padding to the bucket, and the eager fallback when a
/// step's launches differ from the recording — each against the same ops run without graphs.
@Suite(.serialized, .enabled(if: TestDevice.available, "no CUDA device (GPU or emulator)"))
struct DeviceGraphTests {
    static func backend(graphs: Bool) throws -> CUDABackend {
        var perf = PerfOptions()
        perf.graphs = graphs
        let backend = try CUDABackend(configuration: .init(maxTokensPerStep: 64, perf: perf))
        try backend.allocateKVCache(KVCacheLayout(numPages: 8, pageSize: 16, numLayers: 1, numKVHeads: 1, headDim: 64))
        return backend
    }

    /// A decode step over `count` one-token sequences (tokens 0 ..< count of the table).
    static func decodeBatch(_ count: Int, position: Int) -> ForwardBatch {
        ForwardBatch(
            tokens: (0..<count).map { Int32($0) },
            sequences: (0..<count).map {
                .init(tokenOffset: $0, tokenCount: 1, startPosition: position, pages: [Int32($0)])
            },
            pageSize: 16)
    }

    /// embed → RMSNorm → linear(w) → SiLU·mul, read back.
    static func run(_ backend: CUDABackend, _ batch: ForwardBatch, table: CUDAWeight, norm: CUDAWeight, w: CUDAWeight)
        throws -> [Float]
    {
        try backend.beginStep(batch)
        let x = try backend.embed(table)
        let (normed, _) = try backend.addRMSNorm(x, residual: nil, weight: norm, eps: 1e-5)
        let y = try backend.siluAndMul(try backend.linear(normed, w, bias: nil))
        let out = try backend.toHost(y)
        try backend.endStep()
        return out
    }

    @Test func replaysMatchEagerStepsAndDifferingStepsFallBack() throws {
        let graphed = try Self.backend(graphs: true)
        let eager = try Self.backend(graphs: false)
        func weights(_ backend: CUDABackend) throws -> (CUDAWeight, CUDAWeight, CUDAWeight, CUDAWeight) {
            (
                try backend.makeWeight(
                    TestData.tensor("table", [8, 64], TestData.values(8 * 64, seed: 1)), precision: .standard),
                try backend.makeWeight(
                    TestData.tensor("norm", [64], TestData.values(64, seed: 2)), precision: .standard),
                try backend.makeWeight(
                    TestData.tensor("w1", [48, 64], TestData.values(48 * 64, seed: 3, scale: 0.2)),
                    precision: .standard),
                try backend.makeWeight(
                    TestData.tensor("w2", [48, 64], TestData.values(48 * 64, seed: 4, scale: 0.2)),
                    precision: .standard)
            )
        }
        let (tg, ng, w1g, w2g) = try weights(graphed)
        let (te, ne, w1e, w2e) = try weights(eager)
        // Batch 3 → bucket 4 (one padding row).
        for step in 0..<3 {
            let batch = Self.decodeBatch(3, position: step)
            let a = try Self.run(graphed, batch, table: tg, norm: ng, w: w1g)
            let b = try Self.run(eager, batch, table: te, norm: ne, w: w1e)
            #expect(a.count == 3 * 24)
            #expect(a == b, "step \(step): graph and eager results differ")
        }
        var stats = graphed.graphStatistics
        #expect(stats.captures == 1 && stats.replays == 2 && stats.fallbacks == 0, "\(stats.summary)")
        // Same bucket, another weight: the replayed graph is wrong for this step, which must notice and redo it.
        let batch = Self.decodeBatch(4, position: 3)
        let a = try Self.run(graphed, batch, table: tg, norm: ng, w: w2g)
        let b = try Self.run(eager, batch, table: te, norm: ne, w: w2e)
        #expect(a == b, "fallback result differs from eager")
        stats = graphed.graphStatistics
        #expect(stats.fallbacks == 1, "\(stats.summary)")
        // The bucket is recorded afresh, then replayed.
        for step in 4..<6 {
            let batch = Self.decodeBatch(4, position: step)
            #expect(try Self.run(graphed, batch, table: tg, norm: ng, w: w2g)
                == Self.run(eager, batch, table: te, norm: ne, w: w2e))
        }
        stats = graphed.graphStatistics
        #expect(stats.captures == 2 && stats.replays == 3 && stats.fallbacks == 1, "\(stats.summary)")
        // A prefill step is never graphed.
        let prefill = ForwardBatch(
            tokens: [0, 1, 2], sequences: [.init(tokenOffset: 0, tokenCount: 3, startPosition: 0, pages: [5])],
            pageSize: 16)
        #expect(try Self.run(graphed, prefill, table: tg, norm: ng, w: w1g)
            == Self.run(eager, prefill, table: te, norm: ne, w: w1e))
        #expect(graphed.graphStatistics.captures == 2)
    }

    @Test func arenaAddressesRepeatForTheSameSequenceOfAllocations() throws {
        let backend = try Self.backend(graphs: true)
        let arena = ActivationArena(device: backend.device, initialBytes: 1 << 20)
        func sequence() throws -> [UInt64] {
            try arena.reset()
            var held: [ArenaBlock] = []
            var addresses: [UInt64] = []
            for size in [1000, 5000, 1000, 300, 5000] {
                let block = try #require(arena.allocate(size))
                addresses.append(block.address)
                held.append(block)
                if held.count == 3 { held.remove(at: 1) }  // release one in the middle: reused by the next 5000
            }
            return addresses
        }
        let first = try sequence()
        #expect(first[4] == first[1], "a released block of the same size class is reused")
        #expect(try sequence() == first)
        // Overflow: nil, and the next reset grows the buffer (a new generation).
        let generation = arena.generation
        try arena.reset()
        #expect(arena.allocate(4 << 20) == nil && arena.didOverflow)
        try arena.reset()
        #expect(arena.generation == generation + 1 && arena.allocate(4 << 20) != nil)
    }
}
