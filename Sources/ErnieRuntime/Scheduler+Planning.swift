extension Scheduler {
    /// Plans the next step: one decode token for every running sequence that is decoding, then prefill chunks (of
    /// running sequences first, then of queued ones in FCFS order) within the chunked-prefill budget.
    ///
    /// When the pool cannot hold the decodes' next tokens, the newest running sequences are retracted to the queue.
    /// A sequence that cannot progress even alone is failed (listed in `failed`, already removed).
    mutating func schedule() -> StepPlan {
        var plan = StepPlan()
        if !running.isEmpty {
            let step =
                (config.initialNewTokenRatio - config.minNewTokenRatio)
                / Double(max(1, config.newTokenRatioDecaySteps))
            newTokenRatio = max(config.minNewTokenRatio, newTokenRatio - step)
        }
        while true {
            planDecodes(&plan)
            var budget = config.prefillBudget
            for id in running where sequences[id]?.isDecoding == false {
                guard budget > 0 else { break }
                guard let entry = prefillEntry(for: id, budget: &budget) else { break }
                plan.entries.append(entry)
            }
            admit(&plan, budget: &budget)
            if !plan.entries.isEmpty || running.isEmpty { return plan }
            // Running sequences exist but none of them could get a page: make room by retracting the newest one.
            guard let victim = running.last else { return plan }
            if running.count == 1 {
                fail(victim, &plan)
            } else {
                retract(victim)
                plan.retracted.append(victim)
            }
        }
    }

    /// One decode entry per decoding sequence, retracting the newest sequences until their pages fit.
    private mutating func planDecodes(_ plan: inout StepPlan) {
        var decoders: [SequenceID] = []
        while true {
            decoders = running.filter { sequences[$0]?.isDecoding == true }
            let needed = decoders.reduce(0) { total, id in
                guard let s = sequences[id] else { return total }
                return total + max(0, pool.pagesFor(tokens: s.kvCount + 1) - s.pages.count)
            }
            if ensureFree(needed) { break }
            guard let victim = running.last else { return }
            if running.count == 1 {
                fail(victim, &plan)
            } else {
                retract(victim)
                plan.retracted.append(victim)
            }
        }
        for id in decoders {
            // Read, then mutate in place: a local copy would make the page table copy itself on write.
            guard let (kv, held) = sequences[id].map({ ($0.kvCount, $0.pages.count) }) else { continue }
            guard let pages = pool.allocate(max(0, pool.pagesFor(tokens: kv + 1) - held)) else { continue }
            sequences[id]?.pages += pages
            if let s = sequences[id] { plan.entries.append(entry(for: s, count: 1, isPrefill: false)) }
        }
    }

    /// A prefill chunk for a running sequence: as many pending tokens as the budget and the pool allow.
    private mutating func prefillEntry(for id: SequenceID, budget: inout Int) -> StepPlan.Entry? {
        guard let (kv, held, pending) = sequences[id].map({ ($0.kvCount, $0.pages.count, $0.pendingCount) })
        else { return nil }
        var count = min(pending, budget)
        guard count > 0 else { return nil }
        var needed = max(0, pool.pagesFor(tokens: kv + count) - held)
        if !ensureFree(needed) {
            // Take what fits: the rest of the last page plus every free page.
            count = min(count, (held + pool.freeCount) * config.pageSize - kv)
            guard count > 0 else { return nil }
            needed = max(0, pool.pagesFor(tokens: kv + count) - held)
        }
        guard let pages = pool.allocate(needed) else { return nil }
        sequences[id]?.pages += pages
        budget -= count
        return sequences[id].map { entry(for: $0, count: count, isPrefill: true) }
    }

    private func entry(for s: ScheduledSequence, count: Int, isPrefill: Bool) -> StepPlan.Entry {
        let start = s.kvCount
        let end = start + count
        var scores = start..<start
        if let from = s.scoreFrom {
            let lower = max(from, start)
            let upper = min(end, s.promptCount - 1)
            if lower < upper { scores = lower..<upper }
        }
        return StepPlan.Entry(
            id: s.id, startPosition: start, tokens: Array(s.tokens[start..<end]),
            pages: Array(s.pages[0..<pool.pagesFor(tokens: end)]), scorePositions: scores,
            samples: end == s.tokens.count && s.maxNewTokens > 0, isPrefill: isPrefill)
    }

    /// Admits queued sequences in FCFS order while there is room, prefix-matching them against the cache.
    private mutating func admit(_ plan: inout StepPlan, budget: inout Int) {
        while running.count < config.maxRunningRequests, budget > 0, let id = waiting.first,
            var s = sequences[id]
        {
            let matched = cache.match(s.tokens, limit: s.reusableLimit)
            for page in matched { pool.retain(page) }
            s.pages = matched
            s.kvCount = matched.count * config.pageSize
            if !running.isEmpty {
                let required = futurePages(of: s)
                let available =
                    pool.freeCount + pool.cacheOnlyCount
                    - running.reduce(0) { $0 + (sequences[$1].map(futurePages(of:)) ?? 0) }
                if required > available {
                    for page in matched { pool.release(page) }
                    return
                }
            }
            s.isRunning = true
            if s.cachedTokens == nil { s.cachedTokens = s.kvCount }
            sequences[id] = s
            waiting.removeFirst()
            running.append(id)
            plan.admitted.append(id)
            guard let entry = prefillEntry(for: id, budget: &budget) else { return }
            plan.entries.append(entry)
        }
    }

    /// Pages a sequence still has to get: the rest of its tokens plus the expected share of its remaining new tokens.
    private func futurePages(of s: ScheduledSequence) -> Int {
        let remaining = min(max(0, s.maxNewTokens - s.outputCount), config.clipMaxNewTokens)
        let expected = Int((Double(remaining) * newTokenRatio).rounded(.up))
        return max(0, pool.pagesFor(tokens: s.tokens.count + expected) - s.pages.count)
    }

    private mutating func fail(_ id: SequenceID, _ plan: inout StepPlan) {
        let tokens = sequences[id]?.tokens.count ?? 0
        finish(id, cacheable: false)
        let reason =
            "the request needs KV cache for \(tokens) tokens but the pool of \(config.capacityTokens) is exhausted"
        plan.failed.append((id, reason))
    }
}
