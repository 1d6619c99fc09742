import Synchronization

/// Data parallelism: several engines (replicas of the model, each with its own scheduler, KV pool and device)
/// behind the interface of one.
///
/// Each request goes to the replica with the fewest running plus queued requests (ties go round-robin, so an idle
/// front still spreads its requests); it then lives entirely on that replica. A request without a seed gets
/// `randomSeed + n` for the n-th request the front receives — what a single engine would give it — so sampled
/// outputs do not depend on which replica served them. Aborts go to every replica (the one holding the request
/// acts, the others ignore the id); cache flushes are refused while any replica is busy, else go to all and succeed
/// only if all succeed; statistics are summed (ratios recomputed from the sums).
public final class DataParallelEngine: Sendable {
    public let replicas: [Engine]
    private let randomSeed: UInt64
    private let routing = Mutex(Routing())

    private struct Routing {
        var cursor = 0
        var received: UInt64 = 0
        var assigned: [Int] = []
    }

    /// Wraps `replicas` (at least one). The replicas' `randomSeed` (that of the first) seeds unseeded requests.
    public init(replicas: [Engine]) throws(EngineRejection) {
        guard let first = replicas.first else { throw .invalid("a data-parallel front needs at least one engine") }
        self.replicas = replicas
        randomSeed = first.configuration.randomSeed
        routing.withLock { $0.assigned = Array(repeating: 0, count: replicas.count) }
    }

    /// Starts every replica's engine thread.
    public func start() {
        for replica in replicas { replica.start() }
    }

    /// Queues `request` on the least loaded replica. Throws what that replica throws.
    public func submit(_ request: GenerationRequest) throws(EngineRejection) -> AsyncStream<GenerationOutput> {
        var request = request
        let result: Result<AsyncStream<GenerationOutput>, EngineRejection> = routing.withLock { routing in
            let index = Self.leastLoaded(replicas.map(\.stats), from: routing.cursor)
            if request.seed == nil { request.seed = randomSeed &+ routing.received }
            do throws(EngineRejection) {
                let stream = try replicas[index].submit(request)
                routing.received &+= 1
                routing.cursor = (index + 1) % replicas.count
                routing.assigned[index] += 1
                return .success(stream)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The replica with the fewest running + queued requests, the first such one at or after `start`.
    static func leastLoaded(_ stats: [EngineStats], from start: Int) -> Int {
        var best = start % max(stats.count, 1)
        var bestLoad = Int.max
        for offset in 0..<stats.count {
            let i = (start + offset) % stats.count
            let load = stats[i].runningRequests + stats[i].queuedRequests
            if load < bestLoad {
                best = i
                bestLoad = load
            }
        }
        return best
    }

    /// Aborts a request by id on whichever replica holds it.
    public func abort(requestID: String) {
        for replica in replicas { replica.abort(requestID: requestID) }
    }

    /// Empties every replica's prefix cache. Refused (false) while any replica has requests running or queued, as
    /// a single engine refuses, without flushing the others; false also when a replica refused on its own.
    public func flushCache() async -> Bool {
        let busy = replicas.contains { replica in
            let stats = replica.stats
            return stats.runningRequests + stats.queuedRequests > 0
        }
        if busy { return false }
        return await withTaskGroup(of: Bool.self) { group in
            for replica in replicas { group.addTask { await replica.flushCache() } }
            var all = true
            for await flushed in group { all = all && flushed }
            return all
        }
    }

    /// The replicas' statistics summed.
    public var stats: EngineStats { EngineStats.sum(replicaStats) }

    /// Each replica's statistics, in replica order.
    public var replicaStats: [EngineStats] { replicas.map(\.stats) }

    /// How many requests the front has sent to each replica.
    public var assignedRequests: [Int] { routing.withLock { $0.assigned } }

    /// Shuts every replica down at once, aborting what is in flight.
    public func shutdown() async {
        await shutdown(gracePeriod: .zero)
    }

    /// Shuts every replica down (see `Engine.shutdown(gracePeriod:)`), concurrently.
    public func shutdown(gracePeriod: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            for replica in replicas { group.addTask { await replica.shutdown(gracePeriod: gracePeriod) } }
        }
    }
}

extension EngineStats {
    /// Counters and gauges of several engines added up; `tokenUsage` and `cacheHitRate` recomputed from the sums
    /// (the hit rate weighted by each engine's prompt tokens).
    public static func sum(_ parts: [EngineStats]) -> EngineStats {
        var total = EngineStats()
        var cachedPrompt: Double = 0
        for s in parts {
            total.runningRequests += s.runningRequests
            total.queuedRequests += s.queuedRequests
            total.usedTokens += s.usedTokens
            total.cachedTokens += s.cachedTokens
            total.totalTokens += s.totalTokens
            total.generationThroughput += s.generationThroughput
            total.promptTokensTotal += s.promptTokensTotal
            total.generationTokensTotal += s.generationTokensTotal
            total.requestsTotal += s.requestsTotal
            total.retractionsTotal += s.retractionsTotal
            cachedPrompt += s.cacheHitRate * Double(s.promptTokensTotal)
        }
        total.tokenUsage = total.totalTokens > 0 ? Double(total.usedTokens) / Double(total.totalTokens) : 0
        total.cacheHitRate = total.promptTokensTotal > 0 ? cachedPrompt / Double(total.promptTokensTotal) : 0
        return total
    }
}
