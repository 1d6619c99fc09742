/// A binary max-heap of `(priority, payload)` pairs, ordered by `priority` alone.
///
/// Both BPE implementations pack their ordering into one `UInt64` (see `orderKey(_:)`), so one concrete heap serves
/// both without generic dispatch in the hot loop.
struct PriorityQueue {
    private var priorities: [UInt64] = []
    private var payloads: [UInt64] = []

    init(capacity: Int) {
        priorities.reserveCapacity(capacity)
        payloads.reserveCapacity(capacity)
    }

    var isEmpty: Bool { priorities.isEmpty }

    mutating func push(priority: UInt64, payload: UInt64) {
        priorities.append(priority)
        payloads.append(payload)
        var child = priorities.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if priorities[parent] >= priorities[child] { break }
            priorities.swapAt(parent, child)
            payloads.swapAt(parent, child)
            child = parent
        }
    }

    /// Removes and returns the entry with the highest priority.
    mutating func pop() -> (priority: UInt64, payload: UInt64)? {
        guard let topPriority = priorities.first, let topPayload = payloads.first else { return nil }
        let lastPriority = priorities.removeLast()
        let lastPayload = payloads.removeLast()
        if !priorities.isEmpty {
            priorities[0] = lastPriority
            payloads[0] = lastPayload
            var parent = 0
            let count = priorities.count
            while true {
                let left = 2 * parent + 1
                if left >= count { break }
                var largest = left
                let right = left + 1
                if right < count && priorities[right] > priorities[left] { largest = right }
                if priorities[parent] >= priorities[largest] { break }
                priorities.swapAt(parent, largest)
                payloads.swapAt(parent, largest)
                parent = largest
            }
        }
        return (topPriority, topPayload)
    }

    /// A `UInt32` whose unsigned order is the numeric order of `value` (for finite values).
    static func orderKey(_ value: Float) -> UInt32 {
        let bits = (value == 0 ? 0 : value).bitPattern  // -0 and +0 compare equal
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }
}
