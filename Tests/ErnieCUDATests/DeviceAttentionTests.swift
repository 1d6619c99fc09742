import ErnieModel
import Foundation
import Testing

@testable import ErnieCUDA

/// Host reference of interleaved RoPE + causal GQA attention over each sequence's history (bf16 K/V as stored).
struct AttentionReference {
    let nq: Int, nkv: Int, hd: Int, theta: Double
    /// Per sequence: rotated bf16 K rows and V rows, by position.
    var keys: [[[Float]]] = []
    var values: [[[Float]]] = []

    init(nq: Int, nkv: Int, hd: Int, theta: Double, sequences: Int) {
        self.nq = nq
        self.nkv = nkv
        self.hd = hd
        self.theta = theta
        keys = Array(repeating: [], count: sequences)
        values = Array(repeating: [], count: sequences)
    }

    func rope(_ x: ArraySlice<Float>, position: Int) -> [Float] {
        let v = Array(x)
        let inv = CUDABackend.inverseFrequencies(theta: theta, headDim: hd)
        var out = v
        for i in 0..<(hd / 2) {
            let angle = Float(position) * inv[i]
            let c = cosf(angle)
            let s = sinf(angle)
            out[2 * i] = bf(v[2 * i] * c - v[2 * i + 1] * s)
            out[2 * i + 1] = bf(v[2 * i + 1] * c + v[2 * i] * s)
        }
        return out
    }

    /// Appends the step's K/V, then returns the attention output [T, nq·hd] (before bf16 rounding).
    mutating func step(qkv: [Float], batch: ForwardBatch) -> [Float] {
        let width = (nq + 2 * nkv) * hd
        var queries: [[Float]] = []
        for (s, seq) in batch.sequences.enumerated() {
            for j in 0..<seq.tokenCount {
                let t = seq.tokenOffset + j
                let row = qkv[(t * width)..<((t + 1) * width)]
                let pos = seq.startPosition + j
                var k: [Float] = []
                var v: [Float] = []
                for h in 0..<nkv {
                    let start = row.startIndex + (nq + h) * hd
                    k += rope(row[start..<(start + hd)], position: pos)
                    let vs = row.startIndex + (nq + nkv + h) * hd
                    v += row[vs..<(vs + hd)]
                }
                if keys[s].count == pos {
                    keys[s].append(k)
                    values[s].append(v)
                } else {
                    keys[s][pos] = k
                    values[s][pos] = v
                }
            }
        }
        var out = [Float](repeating: 0, count: batch.tokens.count * nq * hd)
        for (s, seq) in batch.sequences.enumerated() {
            for j in 0..<seq.tokenCount {
                let t = seq.tokenOffset + j
                let pos = seq.startPosition + j
                let row = qkv[(t * width)..<((t + 1) * width)]
                for h in 0..<nq {
                    let q = rope(row[(row.startIndex + h * hd)..<(row.startIndex + (h + 1) * hd)], position: pos)
                    let g = h / (nq / nkv)
                    var scores = [Double](repeating: 0, count: pos + 1)
                    for p in 0...pos {
                        var dot = 0.0
                        for d in 0..<hd { dot += Double(q[d]) * Double(keys[s][p][g * hd + d]) }
                        scores[p] = dot / Double(hd).squareRoot()
                    }
                    let m = scores.max()!
                    let weights = scores.map { exp($0 - m) }
                    let total = weights.reduce(0, +)
                    for d in 0..<hd {
                        var acc = 0.0
                        for p in 0...pos { acc += weights[p] * Double(values[s][p][g * hd + d]) }
                        out[(t * nq + h) * hd + d] = Float(acc / total)
                    }
                    _ = queries
                }
            }
        }
        queries.removeAll()
        return out
    }
}

@Suite(.serialized, .enabled(if: TestDevice.available, "no CUDA device (GPU or emulator)"))
struct DeviceAttentionTests {
    /// Three sequences over two steps: ragged prefill chunks, decodes, pages out of order, a context long enough for
    /// split-KV decoding.
    func run(nq: Int, nkv: Int, hd: Int, longPrefill: Int) throws {
        let backend = try TestDevice.backend()
        let pageSize = 16
        try backend.allocateKVCache(
            KVCacheLayout(numPages: 40, pageSize: pageSize, numLayers: 2, numKVHeads: nkv, headDim: hd)
        )
        let shape = AttentionShape(numHeads: nq, numKVHeads: nkv, headDim: hd, ropeTheta: 500_000)
        var reference = AttentionReference(nq: nq, nkv: nkv, hd: hd, theta: 500_000, sequences: 3)
        let pages: [[Int32]] = [[7, 3, 0, 12], [1, 13], (0..<22).map { Int32(39 - $0) }]  // disjoint
        let width = (nq + 2 * nkv) * hd
        let steps: [[(count: Int, start: Int)]] = [
            [(37, 0), (5, 0), (longPrefill, 0)],
            [(1, 37), (20, 5), (1, longPrefill)],
        ]
        for (index, step) in steps.enumerated() {
            var sequences: [ForwardBatch.Sequence] = []
            var offset = 0
            for (s, part) in step.enumerated() {
                sequences.append(
                    .init(
                        tokenOffset: offset, tokenCount: part.count, startPosition: part.start,
                        pages: pages[s]))
                offset += part.count
            }
            let values = TestData.values(offset * width, seed: UInt64(100 + index))
            let table = try backend.makeWeight(TestData.tensor("qkv", [offset, width], values), precision: .standard)
            let batch = ForwardBatch(tokens: (0..<offset).map { Int32($0) }, sequences: sequences, pageSize: pageSize)
            try backend.beginStep(batch)
            let qkv = try backend.embed(table)
            // Layer 1 gets the same K/V (layer 0 is written with different data to check layers stay apart).
            if index == 0 {
                let other = try backend.makeWeight(
                    TestData.tensor("qkv0", [offset, width], TestData.values(offset * width, seed: 999)),
                    precision: .standard
                )
                _ = try backend.attention(qkv: try backend.embed(other), layer: 0, shape: shape)
            }
            let out = try backend.toHost(try backend.attention(qkv: qkv, layer: 1, shape: shape))
            let expected = reference.step(qkv: values, batch: batch)
            let error = normalizedError(out, expected)
            if ProcessInfo.processInfo.environment["ERNIE_DEBUG_ATTENTION"] != nil {
                for t in 0..<offset {
                    let r = (t * nq * hd)..<((t + 1) * nq * hd)
                    print("token \(t): \(normalizedError(Array(out[r]), Array(expected[r])))")
                }
            }
            #expect(error < 1.5e-2, "step \(index) nq \(nq) nkv \(nkv) hd \(hd): normalized error \(error)")
            try backend.endStep()
        }
    }

    /// A prefill step of three sequences, then decode steps of one token each (the split-KV decode kernels: the
    /// CUDA-core one, or with `tensorCores` the tensor-core one for head_dim 128), against the host reference.
    func runDecode(nq: Int, nkv: Int, hd: Int, prompts: [Int], tensorCores: Bool) throws {
        // CUDA graphs off: every step embeds a new qkv table, and a decode graph replays the launches of the step it
        // was recorded in (the table of that step, freed by then) before it checks them; the kernels are the same.
        let backend = try TestDevice.backend {
            $0.decodeAttentionTensorCores = tensorCores
            $0.graphs = false
        }
        let pageSize = 16
        let pagesPer = prompts.map { ($0 + 3 + pageSize - 1) / pageSize }
        try backend.allocateKVCache(
            KVCacheLayout(
                numPages: pagesPer.reduce(0, +) + 1, pageSize: pageSize, numLayers: 1, numKVHeads: nkv, headDim: hd))
        let shape = AttentionShape(numHeads: nq, numKVHeads: nkv, headDim: hd, ropeTheta: 500_000)
        var reference = AttentionReference(nq: nq, nkv: nkv, hd: hd, theta: 500_000, sequences: prompts.count)
        // Pages handed out in reverse order, so no sequence's pages are contiguous.
        var next = pagesPer.reduce(0, +)
        let pages: [[Int32]] = pagesPer.map { n in
            defer { next -= n }
            return (0..<n).map { Int32(next - $0) }
        }
        let width = (nq + 2 * nkv) * hd
        for index in 0..<3 {
            var sequences: [ForwardBatch.Sequence] = []
            var tokens = 0
            for (s, prompt) in prompts.enumerated() {
                let count = index == 0 ? prompt : 1
                let start = index == 0 ? 0 : prompt + index - 1
                sequences.append(.init(tokenOffset: tokens, tokenCount: count, startPosition: start, pages: pages[s]))
                tokens += count
            }
            let values = TestData.values(tokens * width, seed: UInt64(300 + index))
            let table = try backend.makeWeight(TestData.tensor("qkv", [tokens, width], values), precision: .standard)
            let batch = ForwardBatch(tokens: (0..<tokens).map { Int32($0) }, sequences: sequences, pageSize: pageSize)
            try backend.beginStep(batch)
            let out = try backend.toHost(try backend.attention(qkv: try backend.embed(table), layer: 0, shape: shape))
            let expected = reference.step(qkv: values, batch: batch)
            let error = normalizedError(out, expected)
            #expect(
                error < 1.5e-2,
                "step \(index) nq \(nq) nkv \(nkv) hd \(hd) tensor cores \(tensorCores): normalized error \(error)")
            try backend.endStep()
        }
    }

    @Test func decodeStepsOnTensorCoresMatchTheReference() throws {
        // ERNIE-4.5-21B's group of 5, the 300B's 8, a full 16-head group; KV lengths from one tile to several splits.
        try runDecode(nq: 10, nkv: 2, hd: 128, prompts: [1, 37, 300], tensorCores: true)
        try runDecode(nq: 8, nkv: 1, hd: 128, prompts: [15, 16, 17, 130], tensorCores: true)
        try runDecode(nq: 16, nkv: 1, hd: 128, prompts: [64, 5], tensorCores: true)
    }

    @Test func decodeStepsOnCUDACoresMatchTheReference() throws {
        try runDecode(nq: 10, nkv: 2, hd: 128, prompts: [1, 37, 300], tensorCores: false)
    }

    @Test func groupedQueryAttentionGroup2HeadDim64() throws {
        try run(nq: 4, nkv: 2, hd: 64, longPrefill: 300)
    }

    @Test func ernieGroup5HeadDim128() throws {
        try run(nq: 10, nkv: 2, hd: 128, longPrefill: 260)
    }

    @Test func groupsWiderThanEightUseSeveralBlocks() throws {
        try run(nq: 12, nkv: 1, hd: 64, longPrefill: 40)
    }

    @Test func headDimsBelowTheKernelWidthAreMasked() throws {
        try run(nq: 4, nkv: 2, hd: 20, longPrefill: 270)
        try run(nq: 3, nkv: 3, hd: 96, longPrefill: 30)
    }
}
