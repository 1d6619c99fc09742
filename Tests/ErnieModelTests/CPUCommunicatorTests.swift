import ErnieCPU
import ErnieModel
import Foundation
import Synchronization
import Testing

/// The CPU communicator's collectives on real threads, against sums and copies computed here element by element.
@Suite(.timeLimit(.minutes(2))) struct CPUCommunicatorTests {
    /// Runs `body(rank)` on `world` threads at once and returns each rank's result.
    static func onThreads<T: Sendable>(_ world: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = Mutex<[Int: Result<T, any Error>]>([:])
        let done = DispatchSemaphore(value: 0)
        for rank in 0..<world {
            let thread = Thread {
                let result = Result { try body(rank) }
                results.withLock { $0[rank] = result }
                done.signal()
            }
            thread.start()
        }
        for _ in 0..<world { done.wait() }
        return try (0..<world).map { rank in try results.withLock { try $0[rank]!.get() } }
    }

    /// Values whose float sums depend on the order of addition.
    static func values(rank: Int, count: Int) -> [Float] {
        (0..<count).map { i in Float(i % 7 + 1) * powf(10, Float((i + rank) % 9) - 4) * (rank % 2 == 0 ? 1 : -1) }
    }

    @Test(arguments: [2, 3, 4])
    func allReduceSumsInRankOrderAndEveryRankGetsTheSameBits(world: Int) throws {
        let rows = 5, cols = 13
        let group = CPUCommunicatorGroup(worldSize: world)
        let outputs = try Self.onThreads(world) { rank in
            let communicator = try group.communicator(rank: rank)
            let backend = CPUBackend()
            let x = try backend.tensor(rows: rows, cols: cols, values: Self.values(rank: rank, count: rows * cols))
            var results: [[Float]] = []
            for _ in 0..<3 { results.append(try communicator.allReduceSum(x).values) }  // repeated: reusable
            return results
        }
        var expected = Self.values(rank: 0, count: rows * cols)
        for rank in 1..<world {
            let v = Self.values(rank: rank, count: rows * cols)
            for i in expected.indices { expected[i] += v[i] }
        }
        // The first all-reduce sums the inputs; later ones sum the already summed buffers (× world).
        for rank in 0..<world {
            #expect(outputs[rank][0].map(\.bitPattern) == expected.map(\.bitPattern), "rank \(rank)")
            #expect(outputs[rank][2].map(\.bitPattern) == outputs[0][2].map(\.bitPattern))
        }
    }

    @Test func allGatherConcatenatesTheRealColumnsOfEveryRank() throws {
        let widths = [3, 3, 2]
        let group = CPUCommunicatorGroup(worldSize: 3)
        let outputs = try Self.onThreads(3) { rank in
            let backend = CPUBackend()
            let values = (0..<(2 * 3)).map { Float(rank * 100 + $0) }
            let x = try backend.tensor(rows: 2, cols: 3, values: values)
            return try group.communicator(rank: rank).allGatherColumns(x, widths: widths).values
        }
        let expected: [Float] = [0, 1, 2, 100, 101, 102, 200, 201, 3, 4, 5, 103, 104, 105, 203, 204]
        for output in outputs { #expect(output == expected) }
    }

    @Test func aPoisonedGroupReleasesAWaitingRank() throws {
        let group = CPUCommunicatorGroup(worldSize: 2)
        let outputs = try Self.onThreads(2) { rank -> String in
            let communicator = try group.communicator(rank: rank)
            if rank == 1 {
                Thread.sleep(forTimeInterval: 0.05)
                communicator.abort(reason: "rank 1 gave up")
                return "aborted"
            }
            let x = try CPUBackend().tensor(rows: 1, cols: 4, values: [1, 2, 3, 4])
            do {
                _ = try communicator.allReduceSum(x)
                return "completed"
            } catch {
                return "\(error)"
            }
        }
        #expect(outputs[0].contains("rank 1 gave up"))
    }

    @Test func mismatchedShapesFailOnEveryRankInsteadOfCorruptingMemory() throws {
        let group = CPUCommunicatorGroup(worldSize: 2)
        let outputs = try Self.onThreads(2) { rank -> Bool in
            let x = try CPUBackend().tensor(rows: 1, cols: rank == 0 ? 4 : 5, values: Array(repeating: 1, count: rank == 0 ? 4 : 5))
            do {
                _ = try group.communicator(rank: rank).allReduceSum(x)
                return false
            } catch {
                return true
            }
        }
        #expect(outputs == [true, true])
    }
}
