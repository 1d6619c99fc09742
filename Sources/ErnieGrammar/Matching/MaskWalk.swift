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
        try trie.nodes.withUnsafeBufferPointer { (nodes) throws(GrammarError) in
            try trie.edges.withUnsafeBufferPointer { (edges) throws(GrammarError) in
                try trie.tokens.withUnsafeBufferPointer { (tokens) throws(GrammarError) in
                    try words.withUnsafeMutableBufferPointer { (words) throws(GrammarError) in
                        while let (node, current) = stack.popLast() {
                            let first = Int(nodes[Int(node)].edgeStart)
                            let last = Int(nodes[Int(node) + 1].edgeStart)
                            let row = Int(current) * classCount
                            // Children pushed last-first, so they are visited in (memory) order.
                            var edge = last - 1
                            while edge >= first {
                                let byte = edges[edge].byte
                                var target = transitions[row + Int(classes.classOf[Int(byte)])]
                                if target == Self.unknown { target = try next(current, byte: byte) }
                                count += 1
                                if target >= 0 {
                                    let child = Int(edges[edge].child)
                                    for index in Int(nodes[child].tokenStart)..<Int(nodes[child + 1].tokenStart) {
                                        let token = tokens[index]
                                        words[Int(token) >> 5] |= 1 << UInt32(token & 31)
                                    }
                                    if nodes[child].edgeStart != nodes[child + 1].edgeStart {
                                        stack.append((Int32(child), target))
                                    }
                                }
                                edge -= 1
                            }
                        }
                    }
                }
            }
        }
        visited += count
        return words
    }
}
