/// One step the scheduler decided on: which sequences run, with which tokens and pages, and what to read back.
struct StepPlan: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        let id: SequenceID
        /// Position of the first token of this step (tokens already in the KV cache).
        let startPosition: Int
        /// Tokens of this step.
        let tokens: [Int32]
        /// The page table, covering `startPosition + tokens.count` positions.
        let pages: [Int32]
        /// Positions whose logits score the next prompt token (prompt log-probabilities).
        let scorePositions: Range<Int>
        /// Whether the logits of the last token are sampled (the step reaches the end of the sequence).
        let samples: Bool
        /// Whether this is a prefill chunk (counts against the chunked-prefill budget) rather than one decode token.
        let isPrefill: Bool

        var endPosition: Int { startPosition + tokens.count }
    }

    var entries: [Entry] = []
    /// Sequences moved from running back to the queue in this step, newest first.
    var retracted: [SequenceID] = []
    /// Sequences that can never be served and must be finished with an abort, with the reason.
    var failed: [(id: SequenceID, reason: String)] = []
    /// Sequences that left the queue in this step.
    var admitted: [SequenceID] = []

    var isEmpty: Bool { entries.isEmpty }
    var tokenCount: Int { entries.reduce(0) { $0 + $1.tokens.count } }

    static func == (a: StepPlan, b: StepPlan) -> Bool {
        a.entries == b.entries && a.retracted == b.retracted && a.admitted == b.admitted
            && a.failed.map(\.id) == b.failed.map(\.id) && a.failed.map(\.reason) == b.failed.map(\.reason)
    }
}
