import ErnieModel
import Foundation

/// The `Backend` on the CPU: float32 compute whatever the checkpoint dtype (bfloat16 weight matrices are kept in
/// bfloat16 and widened exactly as the kernels load them; other weights are widened at upload), multi-threaded SIMD
/// kernels, a float32 paged KV cache. The executable specification the GPU backend is tested
/// against, and the device of the tests and the demo model.
///
/// Used from one thread at a time (the engine thread); the kernels fan out over the cores internally.
public final class CPUBackend: Backend {
    public typealias Tensor = CPUTensor
    public typealias Weight = CPUWeight

    /// Most bytes of weights this backend loads (default: 90% of physical memory).
    public let memoryLimit: Int
    /// Bytes of weights loaded so far.
    public internal(set) var weightBytes = 0

    public init(memoryLimit: Int? = nil) {
        self.memoryLimit = memoryLimit ?? Int(Double(ProcessInfo.processInfo.physicalMemory) * 0.9)
    }

    public var deviceDescription: String {
        "CPU (\(Parallel.threadCount) thread\(Parallel.threadCount == 1 ? "" : "s"), float32)"
    }

    // MARK: KV cache and step state

    /// Per layer: K and V, each `[pages][pageSize][kvHeads][headDim]`.
    var keyCache: [FloatStorage] = []
    var valueCache: [FloatStorage] = []
    var kvLayout: KVCacheLayout?

    /// The current step (between `beginStep` and `endStep`).
    var batch: ForwardBatch?
    var positions: [Int32] = []
    var slots: [Int32] = []
    /// Sequence index of every token of the step.
    var sequenceOfToken: [Int] = []
    /// Inverse RoPE frequencies per (theta, head dim).
    var inverseFrequencies: [RopeKey: [Float]] = [:]

    struct RopeKey: Hashable {
        var theta: Double
        var headDim: Int
    }

    public func kvBytesPerPage(pageSize: Int, numLayers: Int, numKVHeads: Int, headDim: Int) -> Int {
        pageSize * numLayers * 2 * numKVHeads * headDim * MemoryLayout<Float>.size
    }

    public func allocateKVCache(_ layout: KVCacheLayout) throws {
        guard layout.numPages > 0, layout.pageSize > 0, layout.numLayers > 0, layout.numKVHeads > 0,
              layout.headDim > 0
        else { throw ModelError.backend("invalid KV cache layout \(layout)") }
        let perLayer = layout.numPages * layout.pageSize * layout.numKVHeads * layout.headDim
        let bytes = Double(perLayer) * Double(layout.numLayers) * 8
        guard bytes < Double(ProcessInfo.processInfo.physicalMemory) else {
            throw ModelError.backend("a KV cache of \(Int(bytes) >> 20) MiB does not fit in this machine's memory")
        }
        keyCache = (0..<layout.numLayers).map { _ in FloatStorage(count: perLayer, longLived: true) }
        valueCache = (0..<layout.numLayers).map { _ in FloatStorage(count: perLayer, longLived: true) }
        kvLayout = layout
    }

    public func beginStep(_ batch: ForwardBatch) throws {
        guard let layout = kvLayout else { throw ModelError.backend("beginStep before allocateKVCache") }
        guard batch.pageSize == layout.pageSize else {
            throw ModelError.invalidBatch("page size \(batch.pageSize) differs from the cache's \(layout.pageSize)")
        }
        try batch.validate(vocabSize: Int(Int32.max), layout: layout)
        self.batch = batch
        positions = batch.positions
        slots = batch.slots
        sequenceOfToken = [Int](repeating: 0, count: batch.tokens.count)
        for (s, seq) in batch.sequences.enumerated() {
            for j in 0..<seq.tokenCount { sequenceOfToken[seq.tokenOffset + j] = s }
        }
    }

    public func endStep() throws {
        batch = nil
        positions = []
        slots = []
        sequenceOfToken = []
    }

    func currentBatch() throws -> ForwardBatch {
        guard let batch else { throw ModelError.backend("no step in progress (call beginStep first)") }
        return batch
    }

    // MARK: Elementwise and data movement

    public func embed(_ table: CPUWeight) throws -> CPUTensor {
        let batch = try currentBatch()
        guard !table.isVector else { throw ModelError.backend("embedding table is a vector") }
        let h = table.cols
        let out = CPUTensor(rows: batch.tokens.count, cols: h)
        for (i, token) in batch.tokens.enumerated() {
            guard token >= 0, Int(token) < table.rows else {
                throw ModelError.invalidBatch("token \(token) is outside the embedding table (\(table.rows) rows)")
            }
            table.copyRow(Int(token), to: out.data + i * h)
        }
        return out
    }

    public func addRMSNorm(
        _ x: CPUTensor, residual: CPUTensor?, weight: CPUWeight, eps: Float
    ) throws -> (normed: CPUTensor, residual: CPUTensor) {
        guard weight.count == x.cols else {
            throw ModelError.backend("RMSNorm weight of \(weight.count) for rows of \(x.cols)")
        }
        var sum = x
        if let residual {
            guard residual.rows == x.rows, residual.cols == x.cols else {
                throw ModelError.backend("residual [\(residual.rows), \(residual.cols)] vs x [\(x.rows), \(x.cols)]")
            }
            sum = CPUTensor(rows: x.rows, cols: x.cols)
            let n = x.rows * x.cols
            let a = x.data, b = residual.data, o = sum.data
            var i = 0
            while i + 4 <= n {
                store4(load4(a + i) + load4(b + i), o + i)
                i += 4
            }
            while i < n {
                o[i] = a[i] + b[i]
                i += 1
            }
        }
        let normed = CPUTensor(rows: x.rows, cols: x.cols)
        weight.withFloats { w in
            Kernels.rmsNorm(x: sum.data, rows: x.rows, cols: x.cols, weight: w, eps: eps, out: normed.data)
        }
        return (normed, sum)
    }

    public func linear(_ x: CPUTensor, _ weight: CPUWeight, bias: CPUWeight?) throws -> CPUTensor {
        guard !weight.isVector, weight.cols == x.cols else {
            throw ModelError.backend("linear: weight [\(weight.rows), \(weight.cols)] for input rows of \(x.cols)")
        }
        if let bias, bias.count != weight.rows {
            throw ModelError.backend("linear: bias of \(bias.count) for \(weight.rows) outputs")
        }
        let out = CPUTensor(rows: x.rows, cols: weight.rows)
        withFloats(bias) { b in
            Kernels.matmulTransposed(
                x: x.data, rows: x.rows, weight: weight, n: weight.rows, k: x.cols, bias: b, out: out.data,
                ldo: weight.rows
            )
        }
        return out
    }

    public func siluAndMul(_ gateUp: CPUTensor) throws -> CPUTensor {
        guard gateUp.cols % 2 == 0 else { throw ModelError.backend("siluAndMul: odd width \(gateUp.cols)") }
        let width = gateUp.cols / 2
        let out = CPUTensor(rows: gateUp.rows, cols: width)
        Kernels.siluAndMul(gateUp.data, rows: gateUp.rows, width: width, out: out.data)
        return out
    }

    public func gatherRows(_ x: CPUTensor, indices: [Int]) throws -> CPUTensor {
        let out = CPUTensor(rows: indices.count, cols: x.cols)
        for (i, r) in indices.enumerated() {
            guard r >= 0, r < x.rows else { throw ModelError.backend("gatherRows: row \(r) of \(x.rows)") }
            (out.data + i * x.cols).update(from: x.data + r * x.cols, count: x.cols)
        }
        return out
    }

    public func sample(_ logits: CPUTensor, requests: [LogitsRequest]) throws -> [TokenResult] {
        guard requests.count <= logits.rows else {
            throw ModelError.backend("\(requests.count) logits requests for \(logits.rows) rows")
        }
        return try requests.enumerated().map { i, request in
            try Sampler.run(UnsafeBufferPointer(start: logits.data + i * logits.cols, count: logits.cols), request)
        }
    }

    public func toHost(_ x: CPUTensor) throws -> [Float] { x.values }

    /// `moe` honours `MoEShape.expertRange`.
    public var supportsExpertParallelism: Bool { true }
}
