/// Tokens added on top of the model's vocabulary (special tokens, added_tokens.json, added_tokens_decoder, a
/// tokenizer.json's `added_tokens`), with a leftmost-longest matcher over their contents.
struct AddedVocabulary: Sendable {
    /// Token ids above this are rejected when loading (they would only be embedding rows of absurd models, and
    /// `vocabularySize` must stay far from overflow).
    static let maximumID = 50_000_000

    struct Entry: Sendable {
        var id: Int
        var spec: AddedTokenSpec
    }

    private(set) var entries: [Entry] = []
    private var indexByContent: [String: Int] = [:]
    private(set) var contentByID: [Int: String] = [:]

    var isEmpty: Bool { entries.isEmpty }

    /// Ids of the tokens marked special.
    var specialIDs: Set<Int> { Set(entries.filter(\.spec.special).map(\.id)) }

    func id(for content: String) -> Int? { indexByContent[content].map { entries[$0].id } }

    func entry(for content: String) -> Entry? { indexByContent[content].map { entries[$0] } }

    /// Adds a token, or updates the id and flags of one with the same content (later sources override earlier ones).
    mutating func add(_ spec: AddedTokenSpec, id: Int) {
        guard !spec.content.isEmpty else { return }
        if let index = indexByContent[spec.content] {
            let old = entries[index]
            if contentByID[old.id] == spec.content { contentByID[old.id] = nil }
            entries[index] = Entry(id: id, spec: spec)
        } else {
            indexByContent[spec.content] = entries.count
            entries.append(Entry(id: id, spec: spec))
        }
        contentByID[id] = spec.content
    }

    /// Marks the token with this content special.
    mutating func markSpecial(_ content: String) {
        if let index = indexByContent[content] { entries[index].spec.special = true }
    }

    /// A matcher over the entries that `include` selects, matching `key(entry)` (the content, or its normalized form).
    func matcher(including include: (Entry) -> Bool = { _ in true }, key: (Entry) -> String = { $0.spec.content })
        -> AddedTokenMatcher
    {
        var matcher = AddedTokenMatcher()
        for (index, entry) in entries.enumerated() where include(entry) {
            matcher.add(Array(key(entry).utf8), index: index)
        }
        return matcher
    }
}

/// Leftmost-longest search for added-token contents in UTF-8 text.
struct AddedTokenMatcher: Sendable {
    private var trie = ByteTrie()
    private var firstBytes = [Bool](repeating: false, count: 256)

    var isEmpty: Bool { trie.isEmpty }

    mutating func add(_ bytes: [UInt8], index: Int) {
        guard let first = bytes.first else { return }
        trie.insert(bytes, value: Int32(index))
        firstBytes[Int(first)] = true
    }

    struct Match {
        var range: Range<Int>
        /// Index into `AddedVocabulary.entries`.
        var entry: Int
    }

    /// Non-overlapping matches, scanning left to right and taking the longest token at each starting position.
    func matches(in text: UnsafeBufferPointer<UInt8>) -> [Match] {
        var result: [Match] = []
        if trie.isEmpty { return result }
        var position = 0
        while position < text.count {
            if firstBytes[Int(text[position])],
                let match = trie.longestPrefix(text, from: position, to: text.count)
            {
                result.append(Match(range: position..<(position + match.length), entry: Int(match.value)))
                position += match.length
            } else {
                position += 1
            }
        }
        return result
    }
}
