/// A tokenizer's vocabulary as constrained decoding sees it: the bytes each token adds to the output, in tries.
///
/// Tokens come in three kinds: text tokens (in the tries; any grammar may use them), special tokens (reachable only
/// through an explicit token terminal of a grammar) and tokens that never appear (no text, or at or above `size`).
public struct TokenVocabulary: Sendable {
    public struct Entry: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            case text
            case special
        }

        public var kind: Kind
        /// Bytes in the middle of a decoding run.
        public var bytes: [UInt8]
        /// Bytes as the first token of a run.
        public var runStartBytes: [UInt8]
        /// The next token starts a new run.
        public var endsRun: Bool

        public init(kind: Kind, bytes: [UInt8], runStartBytes: [UInt8]? = nil, endsRun: Bool = false) {
            self.kind = kind
            self.bytes = bytes
            self.runStartBytes = runStartBytes ?? bytes
            self.endsRun = endsRun
        }
    }

    /// Ids `0 ..< size` may be sampled.
    public let size: Int
    let entries: [Entry?]
    let trie: TokenTrie
    /// The trie of run-start bytes; `nil` when they equal the mid-run bytes for every token.
    let runStartTrie: TokenTrie?

    /// `entries[i]` describes token `i` (`nil`: never sampled under a grammar); ids from `entries.count` to `size`
    /// never appear either.
    public init(entries: [Entry?], size: Int? = nil) {
        let size = size ?? entries.count
        self.size = size
        var list = Array(entries.prefix(size))
        // A text token with no bytes would be allowed everywhere and never advance the grammar.
        for i in list.indices where list[i]?.kind == .text && list[i]?.bytes.isEmpty == true { list[i] = nil }
        self.entries = list
        var mid: [(id: Int32, bytes: [UInt8])] = []
        var start: [(id: Int32, bytes: [UInt8])] = []
        var differs = false
        for (id, entry) in list.enumerated() {
            guard let entry, entry.kind == .text else { continue }
            mid.append((Int32(id), entry.bytes))
            start.append((Int32(id), entry.runStartBytes))
            if entry.runStartBytes != entry.bytes { differs = true }
        }
        trie = TokenTrie(mid)
        runStartTrie = differs ? TokenTrie(start) : nil
    }

    /// Whether a run-start position spells tokens differently (only then does a matcher track runs).
    var tracksRuns: Bool { runStartTrie != nil }

    func entry(_ id: Int) -> Entry? {
        id >= 0 && id < entries.count ? entries[id] : nil
    }

    /// Number of 32-bit words of a mask over `size` ids.
    public var maskWordCount: Int { (size + 31) / 32 }
}
