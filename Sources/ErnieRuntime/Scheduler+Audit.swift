extension Scheduler {
    /// Checks every page's reference count against its owners (the sequences listing it plus the prefix cache), the
    /// pool's and the tree's own bookkeeping, and the queue/running sets. Empty when all is consistent.
    func auditProblems() -> [String] {
        var problems = pool.auditProblems() + cache.auditProblems(pool: pool)
        var expected = [Int](repeating: 0, count: pool.pageCount)
        for sequence in sequences.values {
            for page in sequence.pages { expected[Int(page)] += 1 }
            if sequence.pages.count < pool.pagesFor(tokens: sequence.kvCount) {
                problems.append(
                    "sequence \(sequence.id) has \(sequence.kvCount) tokens of KV in \(sequence.pages.count) pages")
            }
            if !sequence.isRunning && !sequence.pages.isEmpty {
                problems.append("queued sequence \(sequence.id) still holds pages")
            }
        }
        for node in cache.nodes.compactMap({ $0 }) {
            for page in node.pages { expected[Int(page)] += 1 }
        }
        for page in 0..<pool.pageCount where expected[page] != pool.refCount(Int32(page)) {
            problems.append("page \(page) has \(pool.refCount(Int32(page))) references but \(expected[page]) owners")
        }
        let runningSet = Set(running)
        let waitingSet = Set(waiting)
        if runningSet.count != running.count || waitingSet.count != waiting.count
            || !runningSet.isDisjoint(with: waitingSet)
            || runningSet.union(waitingSet) != Set(sequences.keys)
        {
            problems.append("running/waiting sets do not match the sequences")
        }
        for id in running where sequences[id]?.isRunning != true { problems.append("\(id) is listed as running") }
        if isIdle && pool.freeCount + pool.cacheOnlyCount != pool.pageCount {
            problems.append(
                "idle but only \(pool.freeCount) free + \(pool.cacheOnlyCount) cached of \(pool.pageCount) pages")
        }
        return problems
    }
}
