/// Identifies a request inside the engine; numbers grow in submission order, so a larger id is a newer request.
struct SequenceID: Hashable, Comparable, Sendable, CustomStringConvertible {
    let value: Int

    init(_ value: Int) { self.value = value }

    static func < (a: SequenceID, b: SequenceID) -> Bool { a.value < b.value }
    var description: String { "#\(value)" }
}

/// What the scheduler knows about one request: its tokens, how many of them have K/V in the pool, and where.
struct ScheduledSequence: Sendable, Equatable {
    let id: SequenceID
    /// Prompt followed by the tokens generated so far.
    private(set) var tokens: [Int32]
    let promptCount: Int
    let maxNewTokens: Int
    /// First position whose next-token logits must still be computed for prompt log-probabilities (positions
    /// `scoreFrom ..< promptCount - 1` score prompt tokens `scoreFrom + 1 ..< promptCount`); `nil` when none is left.
    var scoreFrom: Int?
    /// Leading tokens whose K/V is in `pages`.
    var kvCount = 0
    /// Page table: page `i` holds positions `i·pageSize ..< (i+1)·pageSize`. Each entry is one pool reference.
    var pages: [Int32] = []
    /// Prompt tokens served by the prefix cache at first admission (`nil` until then).
    var cachedTokens: Int?
    var isRunning = false

    init(id: SequenceID, promptTokens: [Int32], maxNewTokens: Int, inputLogprobsStart: Int?) {
        self.id = id
        tokens = promptTokens
        promptCount = promptTokens.count
        self.maxNewTokens = maxNewTokens
        if let start = inputLogprobsStart, max(start, 1) < promptTokens.count {
            scoreFrom = max(start, 1) - 1
        }
    }

    var outputCount: Int { tokens.count - promptCount }
    /// Tokens still to be fed to the model (the last generated token while decoding).
    var pendingCount: Int { tokens.count - kvCount }
    /// A sequence decoding its next token (as opposed to prefilling several).
    var isDecoding: Bool { pendingCount == 1 && kvCount > 0 }

    mutating func append(_ token: Int32) { tokens.append(token) }

    /// Most leading tokens that may be taken from the prefix cache: at least one token must be computed (its logits
    /// give the next token), and prompt positions still to be scored must be computed too.
    var reusableLimit: Int { min(tokens.count - 1, scoreFrom ?? Int.max) }
}
