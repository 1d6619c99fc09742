/// A binary max-heap of `(priority, payload)` pairs, ordered by `priority` alone.
///
/// Both BPE implementations pack their ordering into one `UInt64` (see `orderKey(_:)`), so one concrete heap serves
/// both without generic dispatch in the hot loop.
struct PriorityQueue {
    private struct Entry {
        var priority: UInt64
        var payload: UInt64
    }

    private var entries: [Entry] = []

    init(capacity: Int) {
        entries.reserveCapacity(capacity)
    }

    var isEmpty: Bool { entries.isEmpty }

    mutating func push(priority: UInt64, payload: UInt64) {
        entries.append(Entry(priority: priority, payload: payload))
        entries.withUnsafeMutableBufferPointer { heap in
            let entry = heap[heap.count - 1]
            var hole = heap.count - 1
            while hole > 0 {
                let parent = (hole - 1) / 2
                if heap[parent].priority >= entry.priority { break }
                heap[hole] = heap[parent]
                hole = parent
            }
            heap[hole] = entry
        }
    }

    /// Removes and returns the entry with the highest priority.
    mutating func pop() -> (priority: UInt64, payload: UInt64)? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries.withUnsafeMutableBufferPointer { heap in
                let count = heap.count
                var hole = 0
                while true {
                    var child = 2 * hole + 1
                    if child >= count { break }
                    if child + 1 < count && heap[child + 1].priority > heap[child].priority { child += 1 }
                    if last.priority >= heap[child].priority { break }
                    heap[hole] = heap[child]
                    hole = child
                }
                heap[hole] = last
            }
        }
        return (top.priority, top.payload)
    }

    /// A `UInt32` whose unsigned order is the numeric order of `value` (for finite values).
    static func orderKey(_ value: Float) -> UInt32 {
        let bits = (value == 0 ? 0 : value).bitPattern  // -0 and +0 compare equal
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }
}
