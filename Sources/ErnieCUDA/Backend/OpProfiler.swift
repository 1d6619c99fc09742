/// Per-launch GPU times of eager steps, taken with a pair of CUDA events around every launch, aggregated by label.
///
/// Events serialise the launches they bracket, so the times are each kernel's own duration (no overlap with its
/// neighbours, no launch gaps); the step's wall time is measured separately. Used by `ernie cuda profile`.
final class OpProfiler {
    /// One bracketed launch waiting for its events.
    private struct Sample {
        var label: String
        var cost: OpCost
        var start: CUDAEvent
        var end: CUDAEvent
    }

    /// Totals of one label.
    struct Entry {
        var label: String
        var count = 0
        var milliseconds = 0.0
        var bytes = 0.0
        var flops = 0.0
    }

    let device: CUDADevice
    private var samples: [Sample] = []
    private var spare: [CUDAEvent] = []
    private(set) var entries: [String: Entry] = [:]
    /// Labels in first-seen order (the table follows the model's op order).
    private(set) var order: [String] = []

    init(device: CUDADevice) {
        self.device = device
    }

    private func event() throws -> CUDAEvent {
        if let e = spare.popLast() { return e }
        return try CUDAEvent(device: device)
    }

    func measure(_ launch: QueuedLaunch, on stream: CUDAStream) throws {
        let start = try event()
        let end = try event()
        try start.record(on: stream)
        try launch.run(stream, false)
        try end.record(on: stream)
        samples.append(Sample(label: launch.label, cost: launch.cost, start: start, end: end))
    }

    /// Reads the events of every measured launch (waits for them) into the totals.
    func collect() throws {
        for s in samples {
            let ms = try s.end.milliseconds(since: s.start)
            if entries[s.label] == nil {
                entries[s.label] = Entry(label: s.label)
                order.append(s.label)
            }
            entries[s.label]!.count += 1
            entries[s.label]!.milliseconds += ms
            entries[s.label]!.bytes += s.cost.bytes
            entries[s.label]!.flops += s.cost.flops
            spare.append(s.start)
            spare.append(s.end)
        }
        samples.removeAll(keepingCapacity: true)
    }

    func reset() {
        entries.removeAll()
        order.removeAll()
    }

    var orderedEntries: [Entry] { order.compactMap { entries[$0] } }
}
