import Foundation

/// A reusable meeting point for the threads of a parallel group: every rank brings a few integers, waits until all
/// ranks have come, and leaves with everybody's integers. A failed rank poisons it, so the others stop waiting and
/// throw instead of blocking forever.
///
/// Used by the tensor-parallel executor while the ranks start up (agreeing on the KV cache size) and by the CPU
/// communicator for its collectives (exchanging buffer addresses).
package final class RankRendezvous: @unchecked Sendable {
    // @unchecked: every stored var is read and written only while `condition` is locked.
    package let parties: Int
    private let condition = NSCondition()
    private var values: [[Int]]
    private var results: [[Int]] = []
    private var arrived = 0
    private var generation = 0
    private var failure: String?

    package init(parties: Int) {
        self.parties = max(parties, 1)
        values = Array(repeating: [], count: max(parties, 1))
    }

    /// Waits for every rank; returns each rank's `value`, indexed by rank.
    ///
    /// - Throws: `ParallelError.groupBroken` when the rendezvous was poisoned before or while waiting.
    package func exchange(rank: Int, _ value: [Int]) throws -> [[Int]] {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw ParallelError.groupBroken(failure) }
        guard rank >= 0, rank < parties else {
            throw ParallelError.groupBroken("rank \(rank) outside a group of \(parties)")
        }
        values[rank] = value
        arrived += 1
        let mine = generation
        if arrived == parties {
            results = values
            arrived = 0
            generation &+= 1
            condition.broadcast()
            return results
        }
        while generation == mine && failure == nil { condition.wait() }
        if generation == mine, let failure { throw ParallelError.groupBroken(failure) }
        return results
    }

    /// Waits for every rank.
    package func barrier(rank: Int) throws {
        _ = try exchange(rank: rank, [])
    }

    /// Marks the group failed: ranks waiting now and later throw `ParallelError.groupBroken(reason)`. The first
    /// reason is kept.
    package func poison(_ reason: String) {
        condition.lock()
        if failure == nil { failure = reason }
        condition.broadcast()
        condition.unlock()
    }

    /// The reason the rendezvous was poisoned, if it was.
    package var failureReason: String? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }
}
