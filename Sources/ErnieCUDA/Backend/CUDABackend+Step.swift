import ErnieModel

/// Host copy of the current step's layout plus the device addresses of its uploaded metadata.
struct StepState {
    var batch: ForwardBatch
    var tokenCount: Int
    /// Rows every kernel of the step's body processes: `tokenCount`, or the decode graph bucket (padding tokens have
    /// id 0, position 0, KV slot −1 and a one-page dummy sequence).
    var launchRows: Int
    /// Whether the body's activations come from the arena (graph-eligible decode step).
    var usesArena: Bool
    /// Every sequence adds exactly one token.
    var isDecode: Bool
    /// Longest KV length (end position) of any sequence.
    var maxKVLength: Int
    /// Device arrays (int32): tokens [L], positions [L], slots [L], token → sequence [L], sequence → first entry in
    /// `pages` [S + 1], pages (all sequences' page lists back to back, then the dummy page 0), counts [8]
    /// (counts[0] = real tokens). L = launchRows.
    var tokens: UInt64
    var positions: UInt64
    var slots: UInt64
    var tokenSequence: UInt64
    var sequencePageStart: UInt64
    var pages: UInt64
    var counts: UInt64
}

/// The per-step metadata buffers (device) and their page-locked staging copies.
///
/// Steps of at most `smallCapacity` tokens use a region at fixed offsets (what a captured graph reads); larger steps
/// a growable region laid out per step. Page lists live in their own growable buffer; when it moves, `generation`
/// changes (graphs baked its address in).
final class StepBuffers {
    static let smallCapacity = 256
    /// Word offsets of the arrays in the small region.
    static let smallOffsets: [Int] = {
        let c = smallCapacity
        return [0, c, 2 * c, 3 * c, 4 * c, 5 * c + 64]  // tokens, positions, slots, token seq, page starts, counts
    }()
    static let smallWords = 5 * smallCapacity + 64 + 64

    let device: CUDADevice
    let smallHost: PinnedHostBuffer
    let smallDevice: DeviceBuffer
    private(set) var largeHost: PinnedHostBuffer
    private(set) var largeDevice: DeviceBuffer
    private(set) var pagesHost: PinnedHostBuffer
    private(set) var pagesDevice: DeviceBuffer
    private(set) var pagesGeneration = 0

    init(device: CUDADevice, maxTokens: Int) throws {
        self.device = device
        smallHost = try PinnedHostBuffer(device: device, byteCount: Self.smallWords * 4, label: "step metadata staging")
        smallDevice = try DeviceBuffer(device: device, byteCount: Self.smallWords * 4, label: "step metadata")
        let large = max(1 << 16, maxTokens * 4 * 8)
        largeHost = try PinnedHostBuffer(device: device, byteCount: large, label: "step metadata staging (large)")
        largeDevice = try DeviceBuffer(device: device, byteCount: large, label: "step metadata (large)")
        pagesHost = try PinnedHostBuffer(device: device, byteCount: 1 << 20, label: "page table staging")
        pagesDevice = try DeviceBuffer(device: device, byteCount: 1 << 20, label: "page tables")
    }

    /// Ensures room for `bytes` in the large region (only call while the stream is idle).
    func reserveLarge(_ bytes: Int) throws {
        guard bytes > largeDevice.byteCount else { return }
        let grown = max(bytes, largeDevice.byteCount * 2)
        largeHost = try PinnedHostBuffer(device: device, byteCount: grown, label: "step metadata staging (large)")
        largeDevice = try DeviceBuffer(device: device, byteCount: grown, label: "step metadata (large)")
    }

    /// Ensures room for `bytes` of page tables (only call while the stream is idle).
    func reservePages(_ bytes: Int) throws {
        guard bytes > pagesDevice.byteCount else { return }
        let grown = max(bytes, pagesDevice.byteCount * 2)
        pagesHost = try PinnedHostBuffer(device: device, byteCount: grown, label: "page table staging")
        pagesDevice = try DeviceBuffer(device: device, byteCount: grown, label: "page tables")
        pagesGeneration += 1
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
        if let profiler { try profiler.collect() }

        let isDecode = batch.sequences.count == tokenCount && batch.sequences.allSatisfy { $0.tokenCount == 1 }
        let bucket = isDecode ? graphBucket(forDecodeTokens: tokenCount) : nil
        let shapeBucket = isDecode && perf.graphs ? perf.graphBucket(for: tokenCount) : nil
        if isDecode, bucket == nil { launchState.statistics.eagerDecodeSteps += 1 }
        if bucket != nil { try arena.reset() }
        let launchRows = bucket ?? tokenCount
        let padding = launchRows - tokenCount
        // Padding tokens: id 0, position 0, slot −1 (no KV write), a dummy sequence whose only page is page 0.
        let dummySequence = Int32(batch.sequences.count)
        pageStart.append(Int32(pages.count))
        pages.append(0)
        let tokens = batch.tokens + [Int32](repeating: 0, count: padding)
        let positions = batch.positions + [Int32](repeating: 0, count: padding)
        let slots = batch.slots + [Int32](repeating: -1, count: padding)
        tokenSequence += [Int32](repeating: dummySequence, count: padding)
        let counts: [Int32] = [Int32(tokenCount), Int32(batch.sequences.count), 0, 0, 0, 0, 0, 0]

        let pagesGeneration = stepBuffers.pagesGeneration
        try stepBuffers.reservePages(pages.count * 4)
        if stepBuffers.pagesGeneration != pagesGeneration { invalidateGraphs() }
        pages.withUnsafeBytes { raw in
            if let base = raw.baseAddress { stepBuffers.pagesHost.pointer.copyMemory(from: base, byteCount: raw.count) }
        }
        try stream.copy(
            toDevice: stepBuffers.pagesDevice.address, from: stepBuffers.pagesHost.pointer, byteCount: pages.count * 4)

        let arrays: [[Int32]] = [tokens, positions, slots, tokenSequence, pageStart, counts]
        var addresses: [UInt64] = []
        if launchRows <= StepBuffers.smallCapacity, batch.sequences.count + 1 <= StepBuffers.smallCapacity + 64 {
            let host = stepBuffers.smallHost.pointer
            for (array, offset) in zip(arrays, StepBuffers.smallOffsets) {
                array.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { (host + offset * 4).copyMemory(from: base, byteCount: raw.count) }
                }
                addresses.append(stepBuffers.smallDevice.address + UInt64(offset * 4))
            }
            try stream.copy(toDevice: stepBuffers.smallDevice.address, from: host, byteCount: StepBuffers.smallWords * 4)
        } else {
            var offsets: [Int] = []
            var total = 0
            for array in arrays {
                offsets.append(total)
                total += (array.count * 4 + 255) / 256 * 256
            }
            try stepBuffers.reserveLarge(total)
            let host = stepBuffers.largeHost.pointer
            for (array, offset) in zip(arrays, offsets) {
                array.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { (host + offset).copyMemory(from: base, byteCount: raw.count) }
                }
                addresses.append(stepBuffers.largeDevice.address + UInt64(offset))
            }
            try stream.copy(toDevice: stepBuffers.largeDevice.address, from: host, byteCount: total)
        }
        step = StepState(
            batch: batch, tokenCount: tokenCount, launchRows: launchRows, usesArena: bucket != nil, isDecode: isDecode,
            maxKVLength: maxKV, tokens: addresses[0], positions: addresses[1], slots: addresses[2],
            tokenSequence: addresses[3], sequencePageStart: addresses[4], pages: stepBuffers.pagesDevice.address,
            counts: addresses[5]
        )
        try beginBody(bucket: bucket, groupBucket: shapeBucket)
    }

    public func endStep() throws {
        try finishBody()
        try synchronizeStream()
        // The stream waited for the expert lanes (`ExpertStreams.join`), so they are idle: released with the step.
        expertStreams?.close(keep: perf.keepExpertStreams)
        if let profiler { try profiler.collect() }
        step = nil
    }

    func currentStep(_ op: String) throws -> StepState {
        guard let step else { throw CUDAError.invalidArgument("\(op) called outside beginStep/endStep") }
        return step
    }
}
