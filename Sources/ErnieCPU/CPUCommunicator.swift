import ErnieModel

/// The shared state of a group of CPU "ranks" (threads of one process), the stand-in for NCCL that lets tensor
/// parallelism run, and be tested, on the CPU backend.
///
/// Collectives exchange buffer addresses at a rendezvous and then read each other's memory directly. The all-reduce
/// sums in a fixed order (rank 0 + rank 1 + …, element by element), so it is deterministic and every rank receives
/// bitwise the same result.
public final class CPUCommunicatorGroup: Sendable {
    public let worldSize: Int
    let rendezvous: RankRendezvous

    public init(worldSize: Int) {
        self.worldSize = max(worldSize, 1)
        rendezvous = RankRendezvous(parties: max(worldSize, 1))
    }

    /// The communicator of `rank` (one per rank thread).
    public func communicator(rank: Int) throws -> CPUCommunicator {
        guard rank >= 0, rank < worldSize else {
            throw ParallelError.unsupportedLayout("rank \(rank) outside a CPU group of \(worldSize)")
        }
        return CPUCommunicator(group: self, rank: rank)
    }
}

/// One rank's end of a `CPUCommunicatorGroup`.
public final class CPUCommunicator: Communicator {
    public typealias Device = CPUBackend

    public let rank: Int
    public var worldSize: Int { group.worldSize }
    let group: CPUCommunicatorGroup

    init(group: CPUCommunicatorGroup, rank: Int) {
        self.group = group
        self.rank = rank
    }

    /// Sums `x` over the ranks, in place. Rank `r` adds up elements `[r·n/W, (r+1)·n/W)` of every rank's buffer (in
    /// rank order) and writes the sums into every rank's buffer.
    public func allReduceSum(_ x: CPUTensor) throws -> CPUTensor {
        let n = x.rows * x.cols
        let world = worldSize
        guard world > 1 else { return x }
        let peers = try group.rendezvous.exchange(rank: rank, [Int(bitPattern: x.data), x.rows, x.cols])
        for (r, peer) in peers.enumerated() where peer.count != 3 || peer[1] != x.rows || peer[2] != x.cols {
            let shape = peer.count == 3 ? "[\(peer[1]), \(peer[2])]" : "nothing"
            throw abortAndFail("all-reduce of [\(x.rows), \(x.cols)] on rank \(rank) but \(shape) on rank \(r)")
        }
        let buffers = peers.map { UnsafeMutablePointer<Float>(bitPattern: $0[0]) }
        let chunk = (n * rank / world)..<(n * (rank + 1) / world)
        var sums = [Float](repeating: 0, count: chunk.count)
        if let first = buffers[0] {
            for (j, i) in chunk.enumerated() { sums[j] = first[i] }
        }
        for buffer in buffers.dropFirst() {
            guard let buffer else { continue }
            for (j, i) in chunk.enumerated() { sums[j] += buffer[i] }
        }
        // Everyone has read its chunk of every buffer before anyone overwrites one.
        try group.rendezvous.barrier(rank: rank)
        for buffer in buffers {
            guard let buffer else { continue }
            for (j, i) in chunk.enumerated() { buffer[i] = sums[j] }
        }
        // Every chunk is written before anyone reads its result.
        try group.rendezvous.barrier(rank: rank)
        return x
    }

    public func allGatherColumns(_ x: CPUTensor, widths: [Int]) throws -> CPUTensor {
        let world = worldSize
        guard widths.count == world, widths.allSatisfy({ $0 >= 0 && $0 <= x.cols }) else {
            throw abortAndFail("all-gather widths \(widths) for \(world) ranks of \(x.cols) columns")
        }
        let total = widths.reduce(0, +)
        let out = CPUTensor(rows: x.rows, cols: total)
        let peers = try group.rendezvous.exchange(rank: rank, [Int(bitPattern: x.data), x.rows, x.cols])
        for (r, peer) in peers.enumerated() where peer.count != 3 || peer[1] != x.rows || peer[2] != x.cols {
            let shape = peer.count == 3 ? "[\(peer[1]), \(peer[2])]" : "nothing"
            throw abortAndFail("all-gather of [\(x.rows), \(x.cols)] on rank \(rank) but \(shape) on rank \(r)")
        }
        var column = 0
        for (r, peer) in peers.enumerated() {
            if let source = UnsafePointer<Float>(bitPattern: peer[0]), widths[r] > 0 {
                for row in 0..<x.rows {
                    (out.data + row * total + column).update(from: source + row * x.cols, count: widths[r])
                }
            }
            column += widths[r]
        }
        // The sources stay alive and unchanged until every rank has copied them.
        try group.rendezvous.barrier(rank: rank)
        return out
    }

    public func abort(reason: String) {
        group.rendezvous.poison(reason)
    }

    private func abortAndFail(_ message: String) -> ParallelError {
        abort(reason: message)
        return .groupBroken(message)
    }
}
