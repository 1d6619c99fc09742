import ErnieCPU
import ErnieModel
import Testing

/// bfloat16 checkpoint matrices stay bfloat16 on the CPU backend (half the memory, half the bytes a decode step
/// streams) and give exactly the results of the same values widened to float32 up front.
@Suite struct CPUBFloat16WeightTests {
    /// A bfloat16 tensor of the given bit patterns.
    static func bfloat16(name: String, shape: [Int], bits: [UInt16]) -> HostTensor {
        let buffer = HostBuffer(byteCount: bits.count * 2)
        bits.withUnsafeBytes { buffer.bytes.copyMemory(from: $0) }
        return HostTensor(name: name, dtype: .bfloat16, shape: shape,
                          bytes: UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<bits.count * 2]), owner: buffer)
    }

    /// bfloat16 bit patterns of values in about [-1, 1), and the same values as float32.
    static func values(_ count: Int, seed: UInt64) -> (bits: [UInt16], floats: [Float]) {
        var random = CPUKernelTests.Random(state: seed)
        let bits = (0..<count).map { _ in UInt16(truncatingIfNeeded: random.next().bitPattern >> 16) }
        return (bits, bits.map { Float(bitPattern: UInt32($0) << 16) })
    }

    /// Runs `linear(embed(table) , weight, bias)` for the token ids `0..<rows`.
    static func linear(_ backend: CPUBackend, table: CPUWeight, rows: Int, weight: CPUWeight, bias: CPUWeight?)
        throws -> [Float]
    {
        try backend.beginStep(ForwardBatch(
            tokens: (0..<rows).map(Int32.init),
            sequences: (0..<rows).map { .init(tokenOffset: $0, tokenCount: 1, startPosition: 0, pages: [Int32($0)]) },
            pageSize: 1
        ))
        defer { try? backend.endStep() }
        return try backend.toHost(try backend.linear(try backend.embed(table), weight, bias: bias))
    }

    // Rows 1–3 take the single-row path, 4+ the 4-row tiles; inner sizes with every remainder modulo 4, output
    // counts that are not multiples of 2 or 4.
    @Test(arguments: [(1, 1, 1), (1, 7, 17), (3, 5, 33), (4, 9, 64), (5, 130, 19), (9, 64, 255), (2, 12, 384)])
    func bfloat16WeightsGiveTheBitsOfTheirFloat32Widening(shape: (Int, Int, Int)) throws {
        let (rows, outputs, inner) = shape
        let w = Self.values(outputs * inner, seed: UInt64(rows * 131 + outputs * 7 + inner))
        let x = Self.values(rows * inner, seed: UInt64(inner * 17 + rows))
        let b = Self.values(outputs, seed: UInt64(outputs + 5))

        let compact = CPUBackend()
        let weight16 = try compact.makeWeight(Self.bfloat16(name: "w", shape: [outputs, inner], bits: w.bits),
                                              precision: .standard)
        let bias16 = try compact.makeWeight(Self.bfloat16(name: "b", shape: [outputs], bits: b.bits),
                                            precision: .standard)
        let table16 = try compact.makeWeight(Self.bfloat16(name: "x", shape: [rows, inner], bits: x.bits),
                                             precision: .standard)
        // Matrices at 2 bytes per element, the bias vector widened to float32.
        #expect(compact.weightBytes == (outputs * inner + rows * inner) * 2 + outputs * 4)

        let wide = CPUBackend()
        let weight32 = try wide.makeWeight(HostTensor.float32(name: "w", shape: [outputs, inner], values: w.floats),
                                           precision: .standard)
        let bias32 = try wide.makeWeight(HostTensor.float32(name: "b", shape: [outputs], values: b.floats),
                                         precision: .standard)
        let table32 = try wide.makeWeight(HostTensor.float32(name: "x", shape: [rows, inner], values: x.floats),
                                          precision: .standard)

        for backend in [compact, wide] {
            try backend.allocateKVCache(KVCacheLayout(numPages: rows, pageSize: 1, numLayers: 1, numKVHeads: 1,
                                                      headDim: 2))
        }
        let got = try Self.linear(compact, table: table16, rows: rows, weight: weight16, bias: bias16)
        let expected = try Self.linear(wide, table: table32, rows: rows, weight: weight32, bias: bias32)
        #expect(got == expected)
        // And against a plain double-precision product, so the two cannot agree on a wrong answer.
        var worst: Double = 0
        for r in 0..<rows {
            for o in 0..<outputs {
                var sum = Double(b.floats[o])
                for i in 0..<inner { sum += Double(x.floats[r * inner + i]) * Double(w.floats[o * inner + i]) }
                worst = max(worst, abs(sum - Double(got[r * outputs + o])))
            }
        }
        #expect(worst < 1e-4 * Double(max(inner, 1)).squareRoot())
    }

    @Test func float32PrecisionAndVectorsAreWidened() throws {
        let backend = CPUBackend()
        let values = Self.values(24, seed: 9)
        _ = try backend.makeWeight(Self.bfloat16(name: "router", shape: [4, 6], bits: values.bits),
                                   precision: .float32)
        #expect(backend.weightBytes == 24 * 4)
        _ = try backend.makeWeight(Self.bfloat16(name: "norm", shape: [24], bits: values.bits), precision: .standard)
        #expect(backend.weightBytes == 48 * 4)
        _ = try backend.makeWeight(Self.bfloat16(name: "w", shape: [4, 6], bits: values.bits), precision: .standard)
        #expect(backend.weightBytes == 48 * 4 + 24 * 2)
    }

    /// A bfloat16 matrix used where a float32 vector is expected (an RMSNorm weight saved as `[1, n]`) is widened,
    /// not refused and not misread.
    @Test func aBFloat16MatrixAsNormWeightIsWidened() throws {
        let cols = 10
        let x = Self.values(cols, seed: 3)
        let g = Self.values(cols, seed: 4)
        let backend = CPUBackend()
        let table = try backend.makeWeight(HostTensor.float32(name: "x", shape: [1, cols], values: x.floats),
                                           precision: .standard)
        let norm16 = try backend.makeWeight(Self.bfloat16(name: "g", shape: [1, cols], bits: g.bits),
                                            precision: .standard)
        let norm32 = try backend.makeWeight(HostTensor.float32(name: "g", shape: [cols], values: g.floats),
                                            precision: .standard)
        try backend.allocateKVCache(KVCacheLayout(numPages: 1, pageSize: 1, numLayers: 1, numKVHeads: 1, headDim: 2))
        try backend.beginStep(ForwardBatch(tokens: [0], sequences: [.init(tokenOffset: 0, tokenCount: 1,
                                                                          startPosition: 0, pages: [0])], pageSize: 1))
        let input = try backend.embed(table)
        let a = try backend.toHost(try backend.addRMSNorm(input, residual: nil, weight: norm16, eps: 1e-5).normed)
        let b = try backend.toHost(try backend.addRMSNorm(input, residual: nil, weight: norm32, eps: 1e-5).normed)
        try backend.endStep()
        #expect(a == b)
    }
}
