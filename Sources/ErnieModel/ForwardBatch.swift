/// One forward step over a batch of sequences: some prefilling a chunk of their prompt, some decoding one token.
///
/// Tokens of all sequences are laid out back to back in `tokens`; sequence `s` owns
/// `tokens[s.tokenOffset ..< s.tokenOffset + s.tokenCount]`. Token `j` of sequence `s` sits at position
/// `s.startPosition + j` and its K/V are written to KV slot `pages[(pos) / pageSize] * pageSize + pos % pageSize`.
/// Attention of that token covers positions `0 ... s.startPosition + j` of the same sequence (causal).
public struct ForwardBatch: Sendable, Equatable {
    public struct Sequence: Sendable, Equatable {
        /// Index of the sequence's first new token in `ForwardBatch.tokens`.
        public var tokenOffset: Int
        /// New tokens of this sequence in this step (1 for a decode step).
        public var tokenCount: Int
        /// Tokens already in the KV cache before this step (= position of the first new token).
        public var startPosition: Int
        /// KV pages of the sequence, in order; must cover `startPosition + tokenCount` positions.
        public var pages: [Int32]

        public init(tokenOffset: Int, tokenCount: Int, startPosition: Int, pages: [Int32]) {
            self.tokenOffset = tokenOffset
            self.tokenCount = tokenCount
            self.startPosition = startPosition
            self.pages = pages
        }

        /// KV length after this step.
        public var endPosition: Int { startPosition + tokenCount }
    }

    public var tokens: [Int32]
    public var sequences: [Sequence]
    public var pageSize: Int

    public init(tokens: [Int32], sequences: [Sequence], pageSize: Int) {
        self.tokens = tokens
        self.sequences = sequences
        self.pageSize = pageSize
    }

    /// Position of every token.
    public var positions: [Int32] {
        var out = [Int32](repeating: 0, count: tokens.count)
        for s in sequences {
            for j in 0..<s.tokenCount { out[s.tokenOffset + j] = Int32(s.startPosition + j) }
        }
        return out
    }

    /// KV slot of every token.
    public var slots: [Int32] {
        var out = [Int32](repeating: 0, count: tokens.count)
        for s in sequences {
            for j in 0..<s.tokenCount {
                let p = s.startPosition + j
                out[s.tokenOffset + j] = s.pages[p / pageSize] * Int32(pageSize) + Int32(p % pageSize)
            }
        }
        return out
    }
}
