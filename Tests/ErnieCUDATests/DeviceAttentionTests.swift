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
        try runSteps(
            nq: nq, nkv: nkv, hd: hd,
            steps: [
                [(37, 0), (5, 0), (longPrefill, 0)],
                [(1, 37), (20, 5), (1, longPrefill)],
            ])
    }

    /// Steps of `(token count, start position)` per sequence (a sequence's chunks follow each other), each checked
    /// against the host reference: over the whole output and token by token (each token's error relative to its own
    /// largest output). Two KV layers (layer 0 written with other data, to check layers stay apart); every sequence's
    /// pages out of order and interleaved with the others'. `wide`: the 128-row flash prefill kernel (else 64 rows).
    func runSteps(
        nq: Int, nkv: Int, hd: Int, steps: [[(count: Int, start: Int)]], wide: Bool = true, pageSize: Int = 16,
        warpgroups: Int = PerfOptions().flashPrefillWarpgroups
    ) throws {
        let backend = try TestDevice.backend {
            $0.flashPrefillWide = wide
            $0.flashPrefillWarpgroups = warpgroups
        }
        let sequenceCount = steps.map(\.count).max() ?? 0
        var positions = [Int](repeating: 0, count: sequenceCount)
        for step in steps {
            for (s, part) in step.enumerated() { positions[s] = max(positions[s], part.start + part.count) }
        }
        // Page p of sequence s: sequenceCount * (pagesPerSequence - 1 - p) + s, reversed and interleaved.
        let pagesPerSequence = ((positions.max() ?? 0) + pageSize - 1) / pageSize
        let pages: [[Int32]] = (0..<sequenceCount).map { s in
            (0..<pagesPerSequence).map { Int32(sequenceCount * (pagesPerSequence - 1 - $0) + s) }
        }
        try backend.allocateKVCache(
            KVCacheLayout(
                numPages: sequenceCount * pagesPerSequence, pageSize: pageSize, numLayers: 2, numKVHeads: nkv,
                headDim: hd)
        )
        let shape = AttentionShape(numHeads: nq, numKVHeads: nkv, headDim: hd, ropeTheta: 500_000)
        var reference = AttentionReference(nq: nq, nkv: nkv, hd: hd, theta: 500_000, sequences: sequenceCount)
        let width = (nq + 2 * nkv) * hd
        let label = "nq \(nq) nkv \(nkv) hd \(hd) page size \(pageSize) wide \(wide)"
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
            var worstToken = (token: 0, error: Float(0))
            for t in 0..<offset {
                let r = (t * nq * hd)..<((t + 1) * nq * hd)
                let e = normalizedError(Array(out[r]), Array(expected[r]))
                if ProcessInfo.processInfo.environment["ERNIE_DEBUG_ATTENTION"] != nil { print("token \(t): \(e)") }
                if !(e <= worstToken.error) { worstToken = (t, e) }
            }
            #expect(error < 1.5e-2, "step \(index) \(label): normalized error \(error)")
            #expect(
                worstToken.error < 2e-2,
                "step \(index) \(label): token \(worstToken.token) normalized error \(worstToken.error)")
            try backend.endStep()
        }
    }

    /// A prefill step of three sequences, then decode steps of one token each (the split-KV decode kernels: the
    /// CUDA-core one, or with `tensorCores` the tensor-core one for head_dim 128, with `fusedRope` the tensor-core one
    /// that rotates q and writes the token's K/V itself — the backend's default; the second decode step reads the
    /// first one's), against the host reference. Without `fusedRope`: the separate RoPE + KV-write launch
    /// (`ERNIE_CUDA_DECODE_ROPE_FUSED=0`).
    func runDecode(
        nq: Int, nkv: Int, hd: Int, prompts: [Int], tensorCores: Bool, fusedRope: Bool = false, minimumChunk: Int = 64
    ) throws {
        // CUDA graphs off: every step embeds a new qkv table, and a decode graph replays the launches of the step it
        // was recorded in (the table of that step, freed by then) before it checks them; the kernels are the same.
        let backend = try TestDevice.backend {
            $0.decodeAttentionTensorCores = tensorCores
            $0.fusedDecodeRope = fusedRope
            $0.decodeMinimumChunk = minimumChunk
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

    @Test func decodeStepsWithRoPEInsideTheTensorCoreKernelMatchTheReference() throws {
        try runDecode(nq: 10, nkv: 2, hd: 128, prompts: [1, 37, 300], tensorCores: true, fusedRope: true)
        try runDecode(nq: 8, nkv: 1, hd: 128, prompts: [15, 16, 17, 130], tensorCores: true, fusedRope: true)
    }

    /// Splits of at least 16 and of at least 256 keys (`ERNIE_CUDA_DECODE_MIN_CHUNK`): many partial results to merge,
    /// and at most two splits per sequence here.
    @Test(arguments: [16, 256]) func decodeSplitLengthsMatchTheReference(minimumChunk: Int) throws {
        try runDecode(nq: 10, nkv: 2, hd: 128, prompts: [1, 37, 300], tensorCores: true, minimumChunk: minimumChunk)
        try runDecode(
            nq: 10, nkv: 2, hd: 128, prompts: [1, 37, 300], tensorCores: true, fusedRope: true,
            minimumChunk: minimumChunk)
        try runDecode(nq: 10, nkv: 2, hd: 128, prompts: [1, 37, 300], tensorCores: false, minimumChunk: minimumChunk)
    }

    @Test func decodeStepsOnCUDACoresMatchTheReference() throws {
        try runDecode(nq: 10, nkv: 2, hd: 128, prompts: [1, 37, 300], tensorCores: false)
    }

    /// Prefill chunks of several 128-row blocks whose row counts are not multiples of 128 (nor of 64), chunks that
    /// start after a cached prefix, several sequences per step, with the 128-row and the 64-row mma.sync flash
    /// kernels (head_dim 128 on them: `ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS=0`).
    @Test(arguments: [true, false]) func flashPrefillKernelsMatchTheReference(wide: Bool) throws {
        // ERNIE-4.5-21B's group of 5 at head_dim 128: 185, 25 and 650 rows, then 300 rows at position 37, 5 at 5 and
        // 350 at 130.
        try runSteps(
            nq: 10, nkv: 2, hd: 128, steps: [[(37, 0), (5, 0), (130, 0)], [(60, 37), (1, 5), (70, 130)]], wide: wide,
            warpgroups: 0)
        // Group 3 at head_dim 64: 141 rows at position 0, then 3 at 47 and 291 at 20 (after a 20-token prefix); pages
        // of 5 keys, so a thread's key rows of a tile cross pages.
        try runSteps(
            nq: 6, nkv: 2, hd: 64, steps: [[(47, 0), (20, 0)], [(1, 47), (97, 20)]], wide: wide, pageSize: 5)
    }

    /// The wgmma prefill kernels (head_dim 128; on the emulator the descriptors are decoded in software, with the
    /// layout the H200 confirmed), 2 and 3 warpgroups: the steps above (192-row blocks end mid-token for group 5), and
    /// the 300B's group of 8 over pages of 5 keys (a tile's key rows cross pages), a chunk after a cached prefix.
    @Test(arguments: [2, 3]) func wgmmaPrefillKernelsMatchTheReference(warpgroups: Int) throws {
        try runSteps(
            nq: 10, nkv: 2, hd: 128, steps: [[(37, 0), (5, 0), (130, 0)], [(60, 37), (1, 5), (70, 130)]],
            warpgroups: warpgroups)
        try runSteps(
            nq: 8, nkv: 1, hd: 128, steps: [[(47, 0), (20, 0)], [(1, 47), (97, 20)]], pageSize: 5,
            warpgroups: warpgroups)
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
