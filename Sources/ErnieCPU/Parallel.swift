import Foundation

/// Fork-join parallelism over the machine's cores.
enum Parallel {
    static let threadCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(i)` for `i` in `0..<count`, on up to `threadCount` threads, and returns when all are done.
    static func run(_ count: Int, _ body: @Sendable (Int) -> Void) {
        if count <= 1 || threadCount == 1 {
            for i in 0..<count { body(i) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }

    /// Splits `0..<total` into at most `threadCount` contiguous ranges whose bounds are multiples of `alignment`,
    /// using one range when the work (`total · costPerItem`) is too small to be worth a thread hand-off.
    static func ranges(_ total: Int, alignment: Int = 1, costPerItem: Int, minimumWork: Int = 1 << 15)
        -> [Range<Int>]
    {
        guard total > 0 else { return [] }
        let units = (total + alignment - 1) / alignment
        let byWork = max(1, (total * max(costPerItem, 1)) / minimumWork)
        let parts = min(threadCount, units, byWork)
        var out: [Range<Int>] = []
        var start = 0
        for p in 0..<parts {
            let endUnits = units * (p + 1) / parts
            let end = min(total, endUnits * alignment)
            if end > start { out.append(start..<end) }
            start = end
        }
        return out
    }

    /// Runs `body(range)` for each range of `ranges(...)`.
    static func forRanges(
        _ total: Int, alignment: Int = 1, costPerItem: Int, minimumWork: Int = 1 << 15,
        _ body: @Sendable (Range<Int>) -> Void
    ) {
        let parts = ranges(total, alignment: alignment, costPerItem: costPerItem, minimumWork: minimumWork)
        if parts.count == 1 {
            body(parts[0])
            return
        }
        run(parts.count) { body(parts[$0]) }
    }
}
