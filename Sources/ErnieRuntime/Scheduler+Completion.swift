extension Scheduler {
    /// What a completed step means for one sequence.
    enum Progress: Sendable, Equatable {
        /// A prefill chunk was computed; more of the sequence is pending.
        case chunk
        /// The whole sequence is in the KV cache and nothing was sampled (`maxNewTokens == 0`).
        case prefilled
        /// The last token's logits were sampled: the caller appends or finishes.
        case sampled
    }

    /// Records that a planned step ran: K/V now covers each entry's tokens; prompt positions scored in the step are
    /// done; prefill chunks' full pages enter the prefix cache.
    mutating func complete(_ plan: StepPlan) -> [SequenceID: Progress] {
        var progress: [SequenceID: Progress] = [:]
        for entry in plan.entries {
            guard var s = sequences[entry.id], s.isRunning, s.kvCount == entry.startPosition else { continue }
            s.kvCount = entry.endPosition
            // Chunks are contiguous and cache reuse stops at `scoreFrom`, so a step that passes it scored every
            // position from `scoreFrom` to its end.
            if let from = s.scoreFrom, entry.endPosition > from {
                s.scoreFrom = entry.endPosition < s.promptCount - 1 ? entry.endPosition : nil
            }
            sequences[entry.id] = s
            if entry.isPrefill { cacheComputedPages(of: entry.id) }
            if entry.samples {
                progress[entry.id] = .sampled
            } else {
                progress[entry.id] = s.pendingCount == 0 ? .prefilled : .chunk
            }
        }
        return progress
    }
}
