extension RadixCache {
    /// A leaf whose pages only the tree holds.
    private func isEvictableLeaf(_ index: Int, pool: KVPool) -> Bool {
        guard index != Self.root, let node = nodes[index], node.children.isEmpty else { return false }
        return node.pages.allSatisfy { pool.isCacheOnly($0) }
    }

    /// Evicts least recently used leaves held by nothing but the tree until `count` pages went back to the free list
    /// or nothing more can be evicted. Returns the number of pages freed.
    @discardableResult
    mutating func evict(pages count: Int, pool: inout KVPool) -> Int {
        guard count > 0 else { return 0 }
        // Candidates ordered most recently used first, so the least recently used one is popped from the end.
        var candidates = nodes.indices.filter { isEvictableLeaf($0, pool: pool) }
        candidates.sort { order($0) > order($1) }
        var freed = 0
        while freed < count, let victim = candidates.popLast() {
            guard let node = nodes[victim] else { continue }
            let before = pool.freeCount
            removeLeaf(victim, pool: &pool)
            freed += pool.freeCount - before
            if isEvictableLeaf(node.parent, pool: pool) {
                let key = order(node.parent)
                let at = candidates.firstIndex { order($0) < key } ?? candidates.endIndex
                candidates.insert(node.parent, at: at)
            }
        }
        return freed
    }

    /// Eviction order key: last access time, then slot (deterministic ties).
    private func order(_ index: Int) -> (UInt64, Int) { (nodes[index]?.lastAccess ?? 0, index) }

    /// Empties the tree. Refused (false) while a live sequence still holds one of its pages.
    mutating func flush(pool: inout KVPool) -> Bool {
        for node in nodes.compactMap({ $0 }) where node.pages.contains(where: { !pool.isCacheOnly($0) }) {
            return false
        }
        while true {
            let leaves = nodes.indices.filter { $0 != Self.root && nodes[$0]?.children.isEmpty == true }
            if leaves.isEmpty { break }
            for leaf in leaves { removeLeaf(leaf, pool: &pool) }
        }
        return true
    }

    /// Structural problems (tests): parent/child links, page-aligned tokens, pages listed twice or not held.
    func auditProblems(pool: KVPool) -> [String] {
        var problems: [String] = []
        var seenPages = Set<Int32>()
        for (index, slot) in nodes.enumerated() {
            guard let node = slot else { continue }
            if index != Self.root {
                if node.tokens.count != node.pages.count * pageSize || node.pages.isEmpty {
                    problems.append("node \(index) has \(node.tokens.count) tokens for \(node.pages.count) pages")
                }
                if nodes[node.parent]?.children[Array(node.tokens.prefix(pageSize))] != index {
                    problems.append("node \(index) is not linked from its parent")
                }
            }
            for (key, child) in node.children where nodes[child]?.parent != index || key.count != pageSize {
                problems.append("child \(child) of node \(index) has a wrong parent or key")
            }
            for page in node.pages {
                if !seenPages.insert(page).inserted { problems.append("page \(page) is listed twice in the tree") }
                if !pool.isInCache(page) { problems.append("page \(page) is in the tree but not marked cached") }
            }
        }
        return problems
    }
}
