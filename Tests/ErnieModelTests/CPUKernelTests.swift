import ErnieCPU
import ErnieModel
import Testing

/// The CPU backend's linear layer against a plain double-precision triple loop, over awkward shapes (rows not a
/// multiple of 4, odd output counts, inner sizes with every remainder modulo 16).
@Suite struct CPUKernelTests {
    struct Random {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
    }

    @Test(arguments: [(1, 1, 1), (1, 7, 17), (3, 5, 33), (4, 9, 64), (5, 130, 19), (9, 64, 255), (17, 3, 4), (2, 1, 300)])
    func linearMatchesANaiveProduct(shape: (Int, Int, Int)) throws {
        let (rows, outputs, inner) = shape
        var random = Random(state: UInt64(rows * 1000 + outputs * 10 + inner))
        let x = (0..<(rows * inner)).map { _ in random.next() }
        let w = (0..<(outputs * inner)).map { _ in random.next() }
        let b = (0..<outputs).map { _ in random.next() }
        // Feed x as an embedding table so each token row is one row of x.
        let backend = CPUBackend()
        let weight = try backend.makeWeight(HostTensor.float32(name: "w", shape: [outputs, inner], values: w),
                                            precision: .standard)
        let bias = try backend.makeWeight(HostTensor.float32(name: "b", shape: [outputs], values: b), precision: .standard)
        let embedding = try backend.makeWeight(HostTensor.float32(name: "x", shape: [rows, inner], values: x),
                                               precision: .standard)
        try backend.allocateKVCache(KVCacheLayout(numPages: rows, pageSize: 1, numLayers: 1, numKVHeads: 1, headDim: 2))
        try backend.beginStep(ForwardBatch(
            tokens: (0..<rows).map(Int32.init),
            sequences: (0..<rows).map { .init(tokenOffset: $0, tokenCount: 1, startPosition: 0, pages: [Int32($0)]) },
            pageSize: 1
        ))
        let input = try backend.embed(embedding)
        let got = try backend.toHost(try backend.linear(input, weight, bias: bias))
        try backend.endStep()
        var worst: Double = 0
        for r in 0..<rows {
            for o in 0..<outputs {
                var sum = Double(b[o])
                for i in 0..<inner { sum += Double(x[r * inner + i]) * Double(w[o * inner + i]) }
                worst = max(worst, abs(sum - Double(got[r * outputs + o])))
            }
        }
        #expect(worst < 1e-4 * Double(max(inner, 1)).squareRoot())
    }
}
