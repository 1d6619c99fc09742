import ErnieModel
import Foundation
import Testing

@testable import ErnieCUDA

/// Backend ops against straightforward host references (transformers' rounding order). Run on a GPU, or on the CPU
/// emulator (`scripts/gpu/emu/test.sh`); skipped when neither is available.
@Suite(.serialized, .enabled(if: TestDevice.available, "no CUDA device (GPU or emulator)"))
struct DeviceOpTests {
    @Test func embeddingGatherNormLinearAndSiLU() throws {
        let backend = try TestDevice.backend()
        try backend.allocateKVCache(KVCacheLayout(numPages: 4, pageSize: 16, numLayers: 1, numKVHeads: 1, headDim: 64))
        let vocab = 40
        let hidden = 96
        let out = 24
        let tableValues = TestData.values(vocab * hidden, seed: 1)
        let table = try backend.makeWeight(
            TestData.tensor("embed", [vocab, hidden], tableValues), precision: .standard)
        let residualValues = TestData.values(5 * hidden, seed: 2)
        let residualTable = try backend.makeWeight(
            TestData.tensor("residual", [5, hidden], residualValues, dtype: .float32), precision: .standard
        )
        let normValues = TestData.values(hidden, seed: 3)
        let norm = try backend.makeWeight(TestData.tensor("norm", [hidden], normValues), precision: .standard)
        let wValues = TestData.values(out * hidden, seed: 4, scale: 0.1)
        let w = try backend.makeWeight(TestData.tensor("w", [out, hidden], wValues), precision: .standard)
        let tokens: [Int32] = [3, 7, 7, 39, 0]

        try backend.beginStep(
            ForwardBatch(
                tokens: tokens, sequences: [.init(tokenOffset: 0, tokenCount: 5, startPosition: 0, pages: [0])],
                pageSize: 16)
        )
        let x = try backend.embed(table)
        let expectedX = tokens.flatMap { t in tableValues[(Int(t) * hidden)..<((Int(t) + 1) * hidden)] }
        #expect(try backend.toHost(x) == expectedX)

        let gathered = try backend.gatherRows(x, indices: [4, 0, 0])
        #expect(try backend.toHost(gathered) == [4, 0, 0].flatMap { expectedX[($0 * hidden)..<(($0 + 1) * hidden)] })

        try backend.endStep()
        try backend.beginStep(identityBatch(5))
        let residual = try backend.embed(residualTable)
        try backend.endStep()
        try backend.beginStep(
            ForwardBatch(
                tokens: tokens, sequences: [.init(tokenOffset: 0, tokenCount: 5, startPosition: 0, pages: [0])],
                pageSize: 16)
        )
        let x2 = try backend.embed(table)
        let (normed, newResidual) = try backend.addRMSNorm(x2, residual: residual, weight: norm, eps: 1e-5)
        var expectedResidual = [Float]()
        var expectedNormed = [Float]()
        for r in 0..<5 {
            let z = (0..<hidden).map { bf(expectedX[r * hidden + $0] + residualValues[r * hidden + $0]) }
            let mean = z.reduce(Double(0)) { $0 + Double($1) * Double($1) } / Double(hidden)
            let inv = Float(1 / (mean + 1e-5).squareRoot())
            expectedResidual += z
            expectedNormed += (0..<hidden).map { bf(bf(z[$0] * inv) * normValues[$0]) }
        }
        #expect(try backend.toHost(newResidual) == expectedResidual)
        let normedHost = try backend.toHost(normed)
        let maxUlps = zip(normedHost, expectedNormed).map { abs($0 - $1) / max(abs($1), 1e-30) }.max() ?? 0
        #expect(maxUlps <= 1.0 / 128, "rmsnorm differs by more than one bf16 ulp: \(maxUlps)")

        let (normedOnly, copied) = try backend.addRMSNorm(x2, residual: nil, weight: norm, eps: 1e-5)
        #expect(try backend.toHost(copied) == expectedX)
        _ = normedOnly

        let y = try backend.linear(normed, w, bias: nil)
        var expectedY = [Float]()
        for r in 0..<5 {
            for o in 0..<out {
                var acc = 0.0
                for k in 0..<hidden { acc += Double(normedHost[r * hidden + k]) * Double(wValues[o * hidden + k]) }
                expectedY.append(bf(Float(acc)))
            }
        }
        let yHost = try backend.toHost(y)
        #expect(normalizedError(yHost, expectedY) < 1e-2)

        let biasValues = TestData.values(out, seed: 5)
        let bias = try backend.makeWeight(TestData.tensor("b", [out], biasValues), precision: .standard)
        let yb = try backend.linear(normed, w, bias: bias)
        let expectedYB = (0..<(5 * out)).map { bf(yHost[$0] + biasValues[$0 % out]) }
        #expect(try backend.toHost(yb) == expectedYB)

        let act = try backend.siluAndMul(y)
        let half = out / 2
        var expectedAct = [Float]()
        for r in 0..<5 {
            for c in 0..<half {
                let g = yHost[r * out + c]
                let u = yHost[r * out + half + c]
                expectedAct.append(bf(bf(g / (1 + expf(-g))) * u))
            }
        }
        let actHost = try backend.toHost(act)
        #expect(normalizedError(actHost, expectedAct) <= 1.0 / 128)
        try backend.endStep()
    }

    /// A backend for cuBLASLt plan tests (the skinny GEMM off, so every projection goes to cuBLASLt) and a 64-wide
    /// weight of `out` rows.
    func gemmBackend(out: Int, seed: UInt64, adjust: (inout PerfOptions) -> Void) throws
        -> (backend: CUDABackend, weight: CUDAWeight, values: [Float])
    {
        let backend = try TestDevice.backend(maxTokens: 512) {
            $0.gemvMaxRows = 0
            adjust(&$0)
        }
        try backend.allocateKVCache(KVCacheLayout(numPages: 20, pageSize: 16, numLayers: 1, numKVHeads: 1, headDim: 64))
        let values = TestData.values(out * 64, seed: seed, scale: 0.1)
        return (backend, try backend.makeWeight(TestData.tensor("w", [out, 64], values), precision: .standard), values)
    }

    /// One step of `rows` tokens through `linear`, checked against the host's product.
    func checkLinear(_ backend: CUDABackend, _ w: CUDAWeight, _ wValues: [Float], rows: Int, seed: UInt64) throws {
        let hidden = 64
        let out = w.rows
        let xValues = TestData.values(rows * hidden, seed: seed)
        let table = try backend.makeWeight(TestData.tensor("x", [rows, hidden], xValues), precision: .standard)
        try backend.beginStep(identityBatch(rows))
        let y = try backend.toHost(try backend.linear(try backend.embed(table), w, bias: nil))
        try backend.endStep()
        let expected = (0..<rows).flatMap { r in
            (0..<out).map { o in
                var acc = 0.0
                for k in 0..<hidden { acc += Double(xValues[r * hidden + k]) * Double(wValues[o * hidden + k]) }
                return bf(Float(acc))
            }
        }
        #expect(normalizedError(y, expected) < 1e-2, "\(rows) rows")
    }

    /// Projections of at most 256 rows through cuBLASLt time the heuristic's candidates once per shape and keep the
    /// fastest (the emulator offers three); larger ones take the first. Either way the product matches the host's.
    @Test func smallProjectionsTuneTheirGEMMAlgorithmOnce() throws {
        let (backend, w, wValues) = try gemmBackend(out: 40, seed: 21) { $0.gemmTuning = true }
        for (round, rows) in [5, 300, 5].enumerated() {
            try checkLinear(backend, w, wValues, rows: rows, seed: UInt64(22 + round))
            #expect(backend.blas.tunedPlanCount == 1, "after \(rows) rows")
        }
    }

    /// GEMMs of more than 64 rows take the algorithm cuBLASLt's heuristic chose for their bucket (rows rounded up to
    /// a multiple of 64) instead of a query of their own; the products still match the host's.
    @Test func rowCountsShareTheirBucketsAlgorithm() throws {
        try EmulatedAlgorithms.with(exact: false) { try runSharedAlgorithms(exactAlgorithmsOnly: false) }
        // An emulated cuBLASLt whose algorithms take only the row count they were chosen for: every borrowed
        // algorithm is rejected and the GEMM falls back to a query of its own, with the same products.
        if TestDevice.isEmulator {
            try EmulatedAlgorithms.with(exact: true) { try runSharedAlgorithms(exactAlgorithmsOnly: true) }
        }
    }

    func runSharedAlgorithms(exactAlgorithmsOnly: Bool) throws {
        let (backend, w, wValues) = try gemmBackend(out: 24, seed: 41) { $0.gemmSharedAlgorithms = true }
        for (round, rows) in [100, 120, 128, 40].enumerated() {
            try checkLinear(backend, w, wValues, rows: rows, seed: UInt64(42 + round))
        }
        // 100 and 120 rows borrowed the 128-row plan's algorithm (or, rejected, replaced it with their own); 128 is
        // that plan; 40 rows asked for its own.
        #expect(backend.blas.borrowedPlanCount == (exactAlgorithmsOnly ? 0 : 2))
        #expect(backend.blas.cachedPlanCount == 4)
    }

    @Test func weightsConvertConcatenateAndRandomise() throws {
        let backend = try TestDevice.backend()
        let a = TestData.values(6 * 8, seed: 7)
        let b = TestData.values(2 * 8, seed: 8)
        let w = try backend.makeWeight(
            concatenatingRows: [TestData.tensor("a", [6, 8], a, dtype: .float32), TestData.tensor("b", [2, 8], b)],
            precision: .standard
        )
        #expect(w.shape == [8, 8])
        #expect(try backend.weightToHost(w) == a + b)
        let f16 = TestData.tensor("h", [4], [0.1, -2.5, 1000, 3e-3], dtype: .float16)
        let f16Weight = try backend.makeWeight(f16, precision: .float32)
        #expect(try backend.weightToHost(f16Weight) == (0..<4).map { f16.float(at: $0) })
        let vector = try backend.makeWeight(
            concatenatingRows: [TestData.tensor("v1", [3], [1, 2, 3]), TestData.tensor("v2", [2], [4, 5])],
            precision: .float32
        )
        #expect(vector.shape == [5])
        #expect(try backend.weightToHost(vector) == [1, 2, 3, 4, 5])
        #expect(throws: CUDAError.self) {
            try backend.makeWeight(
                concatenatingRows: [
                    TestData.tensor("a", [2, 8], a.prefix(16).map { $0 }),
                    TestData.tensor("c", [2, 4], a.prefix(8).map { $0 }),
                ],
                precision: .standard
            )
        }

        let random = try backend.makeRandomWeight(shape: [33, 31], precision: .standard, scale: 0.02, seed: 99)
        let expected = (0..<(33 * 31)).map { RandomWeights.bf16Value(seed: 99, index: UInt64($0), scale: 0.02) }
        #expect(try backend.weightToHost(random) == expected)
        let random32 = try backend.makeRandomWeight(shape: [100], precision: .float32, scale: 1.5, seed: 7)
        let expected32 = (0..<100).map { RandomWeights.value(seed: 7, index: UInt64($0), scale: 1.5) }
        #expect(try backend.weightToHost(random32) == expected32)
        // One tensor-parallel rank's slice, generated on the device: two row blocks and a column window of the
        // [33, 31] tensor above, and rows 10..<20 of the vector.
        let slice = try backend.makeRandomWeight(
            rows: [3..<7, 20..<22], columns: 5..<17, sourceColumns: 31, vector: false, precision: .standard,
            scale: 0.02, seed: 99)
        #expect(slice.shape == [6, 12])
        let sliceExpected = [3, 4, 5, 6, 20, 21].flatMap { r in
            (5..<17).map { c in RandomWeights.bf16Value(seed: 99, index: UInt64(r * 31 + c), scale: 0.02) }
        }
        #expect(try backend.weightToHost(slice) == sliceExpected)
        let vectorSlice = try backend.makeRandomWeight(
            rows: [10..<20], columns: 0..<1, sourceColumns: 1, vector: true, precision: .float32, scale: 1.5, seed: 7)
        #expect(vectorSlice.shape == [10])
        #expect(try backend.weightToHost(vectorSlice) == Array(expected32[10..<20]))
    }

    @Test func badInputsGiveClearErrors() throws {
        let backend = try TestDevice.backend(maxTokens: 8)
        let oom = #expect(throws: CUDAError.self) {
            try backend.allocateKVCache(
                KVCacheLayout(numPages: 1 << 20, pageSize: 64, numLayers: 28, numKVHeads: 4, headDim: 128)
            )
        }
        #expect(oom?.description.contains("KV cache") == true)
        #expect(oom?.description.contains("out of GPU memory") == true)
        try backend.allocateKVCache(KVCacheLayout(numPages: 2, pageSize: 4, numLayers: 1, numKVHeads: 1, headDim: 64))
        let table = try backend.makeWeight(
            TestData.tensor("t", [3, 8], TestData.values(24, seed: 1)), precision: .standard)
        // Too many tokens, a page outside the cache, pages that do not cover the positions.
        #expect(throws: CUDAError.self) { try backend.beginStep(identityBatch(9, pageSize: 4)) }
        #expect(throws: CUDAError.self) {
            try backend.beginStep(
                ForwardBatch(
                    tokens: [0],
                    sequences: [
                        .init(
                            tokenOffset: 0, tokenCount: 1,
                            startPosition: 0, pages: [2])
                    ], pageSize: 4))
        }
        #expect(throws: CUDAError.self) {
            try backend.beginStep(
                ForwardBatch(
                    tokens: [0],
                    sequences: [
                        .init(
                            tokenOffset: 0, tokenCount: 1,
                            startPosition: 4, pages: [0])
                    ], pageSize: 4))
        }
        try backend.beginStep(
            ForwardBatch(
                tokens: [0, 5],
                sequences: [
                    .init(
                        tokenOffset: 0, tokenCount: 2,
                        startPosition: 0, pages: [1])
                ], pageSize: 4))
        let embedError = #expect(throws: CUDAError.self) { try backend.embed(table) }
        #expect(embedError?.description.contains("token id 5") == true)
        try backend.endStep()
        try backend.beginStep(identityBatch(2, pageSize: 4))
        let x = try backend.embed(table)
        let wrong = try backend.makeWeight(
            TestData.tensor("w", [4, 7], TestData.values(28, seed: 2)), precision: .standard)
        #expect(throws: CUDAError.self) { try backend.linear(x, wrong, bias: nil) }
        #expect(throws: CUDAError.self) { try backend.gatherRows(x, indices: [2]) }
        try backend.endStep()
        #expect(throws: CUDAError.self) { try backend.embed(table) }
    }
}
