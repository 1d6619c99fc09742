extension PushdownTable {
    /// The tokens of `trie` whose bytes the automaton can read from `configuration`, as a bitmask of `wordCount`
    /// 32-bit words (bit `i % 32` of word `i / 32` is token `i`), plus the tokens of its token edges.
    ///
    /// A depth-first walk of the trie that carries the configuration reached by each prefix and prunes a subtree
    /// as soon as its prefix is rejected, so the work is proportional to the allowed prefixes, not the vocabulary.
    mutating func mask(
        from configuration: Int32, trie: TokenTrie, wordCount: Int, visited: inout Int
    ) throws(GrammarError) -> [UInt32] {
        var words = [UInt32](repeating: 0, count: wordCount)
        for token in tokenEdges(configuration) where Int(token) < wordCount * 32 && token >= 0 {
            words[Int(token) >> 5] |= 1 << UInt32(token & 31)
        }
        guard canContinue(configuration) else { return words }
        let classCount = classes.count
        var stack: [(node: Int32, configuration: Int32)] = [(0, configuration)]
        stack.reserveCapacity(64)
        var count = 0
        while let (node, current) = stack.popLast() {
            let first = Int(trie.childStart[Int(node)])
            let last = Int(trie.childStart[Int(node) + 1])
            let row = Int(current) * classCount
            for edge in first..<last {
                let byte = trie.edgeByte[edge]
                var target = transitions[row + Int(classes.classOf[Int(byte)])]
                if target == Self.unknown { target = try next(current, byte: byte) }
                count += 1
                guard target >= 0 else { continue }
                let child = trie.edgeChild[edge]
                let tokenFirst = Int(trie.tokenStart[Int(child)])
                let tokenLast = Int(trie.tokenStart[Int(child) + 1])
                for index in tokenFirst..<tokenLast {
                    let token = trie.tokens[index]
                    words[Int(token) >> 5] |= 1 << UInt32(token & 31)
                }
                if trie.childStart[Int(child)] != trie.childStart[Int(child) + 1] {
                    stack.append((child, target))
                }
            }
        }
        visited += count
        return words
    }
}
