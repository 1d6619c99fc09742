import Testing

@testable import ErnieRuntime

@Suite struct SchedulerTests {
    private func config(
        pages: Int = 64, pageSize: Int = 4, chunk: Int = 64, maxRunning: Int = 8, context: Int = 4096,
        radix: Bool = true, conservativeness: Double = 0
    ) -> SchedulerConfig {
        SchedulerConfig(
            maxRunningRequests: maxRunning, chunkedPrefillSize: chunk, contextLength: context, enableRadixCache: radix,
            pageSize: pageSize, pageCount: pages, conservativeness: conservativeness)
    }

    private func sequence(
        _ id: Int, prompt: [Int32], maxNew: Int = 8, logprobsFrom: Int? = nil
    ) -> ScheduledSequence {
        ScheduledSequence(
            id: SequenceID(id), promptTokens: prompt, maxNewTokens: maxNew, inputLogprobsStart: logprobsFrom)
    }

    /// Completes a planned step; sampled sequences get token 7 and finish after `maxNewTokens` tokens.
    @discardableResult
    private func advance(_ s: inout Scheduler, _ plan: StepPlan) -> [SequenceID] {
        var finished: [SequenceID] = []
        for (id, progress) in s.complete(plan) where progress == .sampled {
            guard let seq = s.sequences[id] else { continue }
            if seq.outputCount + 1 >= seq.maxNewTokens {
                s.finish(id)
                finished.append(id)
            } else {
                s.append(7, to: id)
            }
        }
        #expect(s.auditProblems().isEmpty, "\(s.auditProblems())")
        return finished
    }

    @Test func longPromptsArePrefilledInChunksMixedWithDecodes() throws {
        var s = Scheduler(config: config(chunk: 64))
        #expect(s.enqueue(sequence(1, prompt: Array(repeating: 3, count: 10))) == nil)
        #expect(s.enqueue(sequence(2, prompt: (0..<150).map { Int32($0 % 50) })) == nil)
        let first = s.schedule()
        #expect(first.entries.map(\.tokens.count) == [10, 54])
        #expect(first.entries.map(\.samples) == [true, false])
        #expect(first.admitted == [SequenceID(1), SequenceID(2)])
        advance(&s, first)
        let second = s.schedule()
        #expect(second.entries.map(\.id) == [SequenceID(1), SequenceID(2)])
        #expect(second.entries[0].isPrefill == false && second.entries[0].tokens == [7])
        #expect(second.entries[1].startPosition == 54 && second.entries[1].tokens.count == 64)
        advance(&s, second)
        let third = s.schedule()
        #expect(third.entries[1].startPosition == 118 && third.entries[1].tokens.count == 32)
        #expect(third.entries[1].samples)
        for entry in first.entries + second.entries + third.entries {
            #expect(entry.pages.count * 4 >= entry.endPosition)
        }
    }

    @Test func respectsMaxRunningRequests() {
        var s = Scheduler(config: config(maxRunning: 2))
        for i in 1...3 { #expect(s.enqueue(sequence(i, prompt: [5, 6, 7], maxNew: 2)) == nil) }
        let first = s.schedule()
        #expect(first.entries.map(\.id) == [SequenceID(1), SequenceID(2)])
        #expect(s.waiting.first == SequenceID(3))
        advance(&s, first)
        let second = s.schedule()
        #expect(second.entries.count == 2, "no room for the third yet")
        #expect(advance(&s, second).count == 2)
        let third = s.schedule()
        #expect(third.entries.map(\.id) == [SequenceID(3)])
    }

    @Test func reusesCachedPrefixPages() throws {
        var s = Scheduler(config: config())
        let prompt: [Int32] = (0..<40).map { Int32($0) }
        #expect(s.enqueue(sequence(1, prompt: prompt, maxNew: 1)) == nil)
        advance(&s, s.schedule())
        #expect(s.sequences.isEmpty)
        #expect(s.cachedTokens == 40, "all 10 full pages stay cached")
        #expect(s.enqueue(sequence(2, prompt: Array(prompt[0..<33]) + [99, 98])) == nil)
        let plan = s.schedule()
        let entry = try #require(plan.entries.first)
        #expect(entry.startPosition == 32, "eight whole pages are reused")
        #expect(entry.tokens == [32, 99, 98])
        #expect(s.sequences[SequenceID(2)]?.cachedTokens == 32)
        // A prompt that is entirely cached still computes its last token.
        #expect(s.enqueue(sequence(3, prompt: prompt)) == nil)
        advance(&s, plan)
        let again = s.schedule()
        let third = try #require(again.entries.first { $0.id == SequenceID(3) })
        #expect(third.startPosition == 36 && third.tokens == [36, 37, 38, 39])
    }

    @Test func promptLogprobsLimitCacheReuse() throws {
        var s = Scheduler(config: config(chunk: 512))
        let prompt: [Int32] = (0..<40).map { Int32($0) }
        #expect(s.enqueue(sequence(1, prompt: prompt, maxNew: 1)) == nil)
        advance(&s, s.schedule())
        #expect(s.enqueue(sequence(2, prompt: prompt, logprobsFrom: 10)) == nil)
        let entry = try #require(s.schedule().entries.first)
        // Token 10's log-probability comes from position 9's logits, so position 9 must be computed.
        #expect(entry.startPosition == 8)
        #expect(entry.scorePositions == 9..<39)
        #expect(s.enqueue(sequence(3, prompt: prompt, logprobsFrom: 0)) == nil)
        #expect(s.enqueue(sequence(4, prompt: prompt, logprobsFrom: 40)) == nil, "nothing to score")
        let plan = s.schedule()
        let third = try #require(plan.entries.first { $0.id == SequenceID(3) })
        #expect(third.startPosition == 0 && third.scorePositions == 0..<39)
        let fourth = try #require(plan.entries.first { $0.id == SequenceID(4) })
        #expect(fourth.scorePositions.isEmpty && fourth.startPosition == 36)
    }

    @Test func scoresSpanChunks() throws {
        var s = Scheduler(config: config(chunk: 16))
        #expect(s.enqueue(sequence(1, prompt: (0..<40).map { Int32($0) }, logprobsFrom: 5)) == nil)
        var scored: [Int] = []
        while let entry = s.schedule().entries.first, entry.isPrefill {
            scored += Array(entry.scorePositions)
            let plan = StepPlan(entries: [entry])
            _ = s.complete(plan)
            if entry.samples { break }
        }
        #expect(scored == Array(4..<39))
        #expect(s.sequences[SequenceID(1)]?.scoreFrom == nil)
    }

    @Test func retractsNewestWhenDecodesRunOutOfPages() throws {
        // Four one-page prompts fill a four-page pool; every decode then needs a second page.
        var s = Scheduler(config: config(pages: 4, pageSize: 4, radix: false))
        for i in 1...4 { #expect(s.enqueue(sequence(i, prompt: Array(repeating: Int32(i + 10), count: 4))) == nil) }
        let first = s.schedule()
        #expect(first.entries.count == 4)
        advance(&s, first)
        let second = s.schedule()
        // Retracting #4 frees one page for three decodes; retracting #3 too leaves two pages for two.
        #expect(second.retracted == [SequenceID(4), SequenceID(3)])
        #expect(second.entries.map(\.id) == [SequenceID(1), SequenceID(2)])
        #expect(Array(s.waiting) == [SequenceID(3), SequenceID(4)], "FCFS order kept at the queue front")
        #expect(s.retractionCount == 2)
        let retracted = try #require(s.sequences[SequenceID(3)])
        #expect(retracted.pages.isEmpty && retracted.kvCount == 0 && retracted.outputCount == 1)
        advance(&s, second)
        // Once room appears, #3 re-prefills its prompt and the token it generated before retraction.
        var resumed: StepPlan.Entry?
        for _ in 0..<50 where resumed == nil {
            let plan = s.schedule()
            resumed = plan.entries.first { $0.id == SequenceID(3) }
            advance(&s, plan)
        }
        let entry = try #require(resumed)
        #expect(entry.startPosition == 0 && entry.tokens == [13, 13, 13, 13, 7])
        #expect(entry.samples)
    }

    @Test func retractedPagesStayCachedForTheResume() throws {
        var s = Scheduler(config: config(pages: 10, pageSize: 4))
        for i in 1...3 { #expect(s.enqueue(sequence(i, prompt: Array(repeating: Int32(i + 10), count: 12))) == nil) }
        advance(&s, s.schedule())
        let second = s.schedule()
        // #3's three full pages go to the prefix cache when it is retracted, which makes them evictable: enough room.
        #expect(second.retracted == [SequenceID(3)])
        #expect(second.entries.map(\.id) == [SequenceID(1), SequenceID(2)])
        #expect(s.auditProblems().isEmpty)
    }

    @Test func promptScoresSurviveRetractionMidPrefill() {
        // #2 prefills 40 prompt tokens with log-probabilities while #1 decodes; the pool cannot hold both, so #2 is
        // retracted part-way. Every prompt position must still be scored exactly once.
        var s = Scheduler(config: config(pages: 11, pageSize: 4, chunk: 8))
        #expect(s.enqueue(sequence(1, prompt: [9, 9, 9, 9], maxNew: 20)) == nil)
        #expect(s.enqueue(sequence(2, prompt: (0..<40).map { Int32($0) }, maxNew: 2, logprobsFrom: 0)) == nil)
        var scored: [Int] = []
        var retractedWhilePrefilling = false
        for _ in 0..<200 where !s.isIdle {
            let plan = s.schedule()
            if plan.retracted.contains(SequenceID(2)), let seq = s.sequences[SequenceID(2)], seq.outputCount == 0 {
                retractedWhilePrefilling = true
            }
            for entry in plan.entries where entry.id == SequenceID(2) {
                scored += Array(entry.scorePositions)
                if let from = s.sequences[SequenceID(2)]?.scoreFrom { #expect(entry.startPosition <= from) }
            }
            advance(&s, plan)
        }
        #expect(s.isIdle)
        #expect(retractedWhilePrefilling)
        #expect(scored == Array(0..<39))
        #expect(s.pool.usedCount == 0)
    }

    @Test func neverDeadlocksOnPrefillsThatDoNotFitTogether() {
        // Two 40-token prompts in a 48-token pool, chunked by 16: they cannot both finish prefill.
        var s = Scheduler(config: config(pages: 12, pageSize: 4, chunk: 16))
        #expect(s.enqueue(sequence(1, prompt: Array(repeating: 1, count: 40), maxNew: 2)) == nil)
        #expect(s.enqueue(sequence(2, prompt: Array(repeating: 2, count: 40), maxNew: 2)) == nil)
        var steps = 0
        while !s.isIdle && steps < 100 {
            let plan = s.schedule()
            #expect(!plan.isEmpty)
            #expect(plan.failed.isEmpty)
            advance(&s, plan)
            steps += 1
        }
        #expect(s.isIdle)
        #expect(s.pool.usedCount == 0)
    }

    @Test func rejectsRequestsThatCanNeverRun() {
        var s = Scheduler(config: config(pages: 4, pageSize: 4, context: 32))
        #expect(s.enqueue(sequence(1, prompt: [])) == .invalid("the prompt is empty"))
        guard case .tooLong = s.enqueue(sequence(2, prompt: Array(repeating: 1, count: 32))) else {
            Issue.record("prompt at the context length must be refused")
            return
        }
        guard case .tooLong = s.enqueue(sequence(3, prompt: Array(repeating: 1, count: 20), maxNew: 13)) else {
            Issue.record("prompt + max_new_tokens over the context length must be refused")
            return
        }
        guard case .tooLong = s.enqueue(sequence(4, prompt: Array(repeating: 1, count: 10), maxNew: 8)) else {
            Issue.record("17 KV slots do not fit 16")
            return
        }
        #expect(s.enqueue(sequence(5, prompt: Array(repeating: 1, count: 10), maxNew: 7)) == nil, "16 slots fit")
    }

    @Test func flushIsRefusedWhileRequestsExist() {
        var s = Scheduler(config: config())
        #expect(s.enqueue(sequence(1, prompt: Array(repeating: 4, count: 9), maxNew: 1)) == nil)
        let refused = s.flushCache()
        #expect(!refused)
        advance(&s, s.schedule())
        #expect(s.cachedTokens == 8)
        let flushed = s.flushCache()
        #expect(flushed)
        #expect(s.cachedTokens == 0 && s.pool.freeCount == 64)
    }

    @Test func admissionKeepsRoomForRunningRequests() {
        // With the default conservativeness, running requests' expected growth is held back from new admissions.
        var s = Scheduler(config: config(pages: 20, pageSize: 4, conservativeness: 1))
        #expect(s.enqueue(sequence(1, prompt: Array(repeating: 1, count: 8), maxNew: 60)) == nil)
        #expect(s.enqueue(sequence(2, prompt: Array(repeating: 2, count: 8), maxNew: 60)) == nil)
        let plan = s.schedule()
        // #1 expects 8 + 0.7·60 = 50 tokens = 13 pages of 20; #2 would need 13 more.
        #expect(plan.entries.map(\.id) == [SequenceID(1)])
        #expect(s.waiting.first == SequenceID(2))
    }
}
