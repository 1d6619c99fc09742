import ErnieModel

/// Host copy of the current step's layout plus the device addresses of its uploaded metadata.
struct StepState {
    var batch: ForwardBatch
    var tokenCount: Int
    /// Longest KV length (end position) of any sequence.
    var maxKVLength: Int
    /// Device arrays (int32): tokens [T], positions [T], slots [T], token → sequence [T], sequence → first entry in
    /// `pages` [S], pages (all sequences' page lists back to back).
    var tokens: UInt64
    var positions: UInt64
    var slots: UInt64
    var tokenSequence: UInt64
    var sequencePageStart: UInt64
    var pages: UInt64
}

/// The per-step metadata buffer (device) and its page-locked staging copy; grown when a step needs more.
final class StepBuffers {
    let device: CUDADevice
    private(set) var host: PinnedHostBuffer
    private(set) var deviceBuffer: DeviceBuffer

    init(device: CUDADevice, maxTokens: Int) throws {
        self.device = device
        let bytes = max(1 << 16, maxTokens * 4 * 8)
        host = try PinnedHostBuffer(device: device, byteCount: bytes, label: "step metadata staging")
        deviceBuffer = try DeviceBuffer(device: device, byteCount: bytes, label: "step metadata")
    }

    /// Ensures room for `bytes` (only call while the stream is idle).
    func reserve(_ bytes: Int) throws {
        guard bytes > deviceBuffer.byteCount else { return }
        let grown = max(bytes, deviceBuffer.byteCount * 2)
        host = try PinnedHostBuffer(device: device, byteCount: grown, label: "step metadata staging")
        deviceBuffer = try DeviceBuffer(device: device, byteCount: grown, label: "step metadata")
    }
}

extension CUDABackend {
    public func beginStep(_ batch: ForwardBatch) throws {
        // The engine may run steps on another thread than the one that created the backend.
        try device.makeCurrent()
        guard let layout = kvLayout else { throw CUDAError.invalidArgument("beginStep before allocateKVCache") }
        let tokenCount = batch.tokens.count
        guard tokenCount > 0 else { throw CUDAError.invalidArgument("a step needs at least one token") }
        guard tokenCount <= configuration.maxTokensPerStep else {
            throw CUDAError.invalidArgument(
                "step has \(tokenCount) tokens; the backend was created for at most \(configuration.maxTokensPerStep)"
            )
        }
        guard batch.pageSize == layout.pageSize else {
            throw CUDAError.invalidArgument(
                "batch page size \(batch.pageSize) != KV cache page size \(layout.pageSize)")
        }
        var tokenSequence = [Int32](repeating: -1, count: tokenCount)
        var pageStart: [Int32] = []
        var pages: [Int32] = []
        var maxKV = 0
        for (index, sequence) in batch.sequences.enumerated() {
            guard sequence.tokenCount > 0, sequence.tokenOffset >= 0, sequence.startPosition >= 0,
                sequence.tokenOffset + sequence.tokenCount <= tokenCount
            else {
                throw CUDAError.invalidArgument(
                    "sequence \(index): tokens [\(sequence.tokenOffset), +\(sequence.tokenCount)) outside the batch "
                        + "of \(tokenCount)"
                )
            }
            guard sequence.pages.count * layout.pageSize >= sequence.endPosition else {
                throw CUDAError.invalidArgument(
                    "sequence \(index): \(sequence.pages.count) pages of \(layout.pageSize) cannot hold "
                        + "\(sequence.endPosition) positions"
                )
            }
            if let bad = sequence.pages.first(where: { $0 < 0 || Int($0) >= layout.numPages }) {
                throw CUDAError.invalidArgument("sequence \(index): page \(bad) outside 0..<\(layout.numPages)")
            }
            for j in sequence.tokenOffset..<(sequence.tokenOffset + sequence.tokenCount) {
                guard tokenSequence[j] < 0 else {
                    throw CUDAError.invalidArgument("token \(j) belongs to two sequences")
                }
                tokenSequence[j] = Int32(index)
            }
            pageStart.append(Int32(pages.count))
            pages += sequence.pages
            maxKV = max(maxKV, sequence.endPosition)
        }
        if let orphan = tokenSequence.firstIndex(where: { $0 < 0 }) {
            throw CUDAError.invalidArgument("token \(orphan) belongs to no sequence")
        }
        try synchronizeStream()
        let arrays: [[Int32]] = [batch.tokens, batch.positions, batch.slots, tokenSequence, pageStart, pages]
        var offsets: [Int] = []
        var total = 0
        for array in arrays {
            offsets.append(total)
            total += (array.count * 4 + 255) / 256 * 256
        }
        try stepBuffers.reserve(total)
        let host = stepBuffers.host.pointer
        for (array, offset) in zip(arrays, offsets) {
            array.withUnsafeBytes { raw in
                if let base = raw.baseAddress { (host + offset).copyMemory(from: base, byteCount: raw.count) }
            }
        }
        let base = stepBuffers.deviceBuffer.address
        try stream.copy(toDevice: base, from: host, byteCount: total)
        step = StepState(
            batch: batch, tokenCount: tokenCount, maxKVLength: maxKV, tokens: base + UInt64(offsets[0]),
            positions: base + UInt64(offsets[1]), slots: base + UInt64(offsets[2]),
            tokenSequence: base + UInt64(offsets[3]), sequencePageStart: base + UInt64(offsets[4]),
            pages: base + UInt64(offsets[5])
        )
    }

    public func endStep() throws {
        try synchronizeStream()
        step = nil
    }

    func currentStep(_ op: String) throws -> StepState {
        guard let step else { throw CUDAError.invalidArgument("\(op) called outside beginStep/endStep") }
        return step
    }
}
