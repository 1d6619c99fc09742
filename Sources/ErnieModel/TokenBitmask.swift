/// A set of token ids as a bitmask: bit `id % 32` of `words[id / 32]`. Ids beyond the last word are not members.
///
/// Structured output uses it to say which tokens a request may sample next (`LogitsRequest.allowedTokens`).
public struct TokenBitmask: Sendable, Equatable {
    public var words: [UInt32]

    public init(words: [UInt32]) {
        self.words = words
    }

    /// An empty mask with room for ids below `count`.
    public init(count: Int) {
        words = [UInt32](repeating: 0, count: (max(count, 0) + 31) / 32)
    }

    @inlinable
    public func contains(_ id: Int) -> Bool {
        guard id >= 0, id >> 5 < words.count else { return false }
        return words[id >> 5] & (1 << UInt32(id & 31)) != 0
    }

    /// Adds `id` (the mask grows when needed).
    public mutating func insert(_ id: Int) {
        guard id >= 0 else { return }
        if id >> 5 >= words.count { words += [UInt32](repeating: 0, count: (id >> 5) + 1 - words.count) }
        words[id >> 5] |= 1 << UInt32(id & 31)
    }

    /// Number of members.
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }
}
