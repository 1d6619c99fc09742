/// A radix tree over token ids whose edges are whole KV pages: the prefix cache.
///
/// Only full pages are shared. Each node holds a run of tokens (a multiple of the page size) and the pages that hold
/// their K/V; a path from the root spells a prefix. The tree owns one pool reference per page it lists; a page
/// whose only owner is the tree is evictable, and eviction removes least recently used leaves first.
///
/// A value type owned by the scheduler on the engine thread; the pool is passed in where references change.
struct RadixCache: Sendable {
    struct Node: Sendable {
        var parent: Int
        /// Children by the tokens of their first page.
        var children: [[Int32]: Int] = [:]
        var tokens: [Int32]
        var pages: [Int32]
        var lastAccess: UInt64 = 0
    }

    let pageSize: Int
    let isEnabled: Bool
    /// Node storage; `nil` slots are free and listed in `freeSlots`. Slot 0 is the root.
    private(set) var nodes: [Node?]
    private var freeSlots: [Int] = []
    private var clock: UInt64 = 0

    static let root = 0

    init(pageSize: Int, isEnabled: Bool) {
        self.pageSize = max(1, pageSize)
        self.isEnabled = isEnabled
        nodes = [Node(parent: -1, tokens: [], pages: [])]
    }

    /// Pages currently listed by the tree.
    var pageCount: Int { nodes.reduce(0) { $0 + ($1?.pages.count ?? 0) } }
    var nodeCount: Int { nodes.count - freeSlots.count }

    // MARK: Lookup

    /// The longest cached prefix of `tokens` of at most `limit` tokens, in whole pages: its pages in order.
    ///
    /// Marks the path as recently used and splits a node where the match ends inside it, so the matched prefix is a
    /// path of whole nodes.
    mutating func match(_ tokens: [Int32], limit: Int) -> [Int32] {
        guard isEnabled else { return [] }
        clock += 1
        let usable = min(limit, tokens.count) / pageSize * pageSize
        var node = Self.root
        var position = 0
        var pages: [Int32] = []
        while position + pageSize <= usable {
            let key = Array(tokens[position..<position + pageSize])
            guard let child = nodes[node]?.children[key], let childNode = nodes[child] else { break }
            let matched = matchingPages(childNode.tokens, tokens, from: position, limit: usable)
            let target = matched < childNode.pages.count ? split(child, atPage: matched) : child
            nodes[target]?.lastAccess = clock
            pages += nodes[target]?.pages ?? []
            position += matched * pageSize
            node = target
            if matched < childNode.pages.count { break }
        }
        return pages
    }

    /// Number of leading whole pages of `nodeTokens` equal to `tokens[from...]`, without reading past `limit`.
    private func matchingPages(_ nodeTokens: [Int32], _ tokens: [Int32], from: Int, limit: Int) -> Int {
        var count = 0
        while (count + 1) * pageSize <= nodeTokens.count && from + (count + 1) * pageSize <= limit {
            let a = nodeTokens[count * pageSize..<(count + 1) * pageSize]
            let start = from + count * pageSize
            guard a.elementsEqual(tokens[start..<start + pageSize]) else { break }
            count += 1
        }
        return count
    }

    // MARK: Insertion

    /// Records that `pages` hold the K/V of `tokens` (`tokens.count == pages.count × pageSize`) and answers the
    /// pages the tree now lists for that prefix.
    ///
    /// Parts of the prefix that are already cached keep their cached pages (the caller's copies are not adopted, and
    /// the answer names the cached ones so the caller can switch to them); the rest becomes a new leaf whose pages
    /// the tree takes a reference to.
    @discardableResult
    mutating func insert(_ tokens: [Int32], pages: [Int32], pool: inout KVPool) -> [Int32] {
        guard isEnabled, !pages.isEmpty else { return pages }
        assert(tokens.count == pages.count * pageSize, "insert needs whole pages")
        clock += 1
        var node = Self.root
        var position = 0
        var canonical: [Int32] = []
        canonical.reserveCapacity(pages.count)
        while position < tokens.count {
            let key = Array(tokens[position..<position + pageSize])
            guard let child = nodes[node]?.children[key], let childNode = nodes[child] else {
                let newTokens = Array(tokens[position...])
                let newPages = Array(pages[(position / pageSize)...])
                for page in newPages { pool.adoptIntoCache(page) }
                let leaf = allocateNode(Node(parent: node, tokens: newTokens, pages: newPages, lastAccess: clock))
                nodes[node]?.children[key] = leaf
                return canonical + newPages
            }
            let matched = matchingPages(childNode.tokens, tokens, from: position, limit: tokens.count)
            let endsInside = position + matched * pageSize == tokens.count
            let target = matched < childNode.pages.count && !endsInside ? split(child, atPage: matched) : child
            nodes[target]?.lastAccess = clock
            canonical += childNode.pages[..<matched]
            position += matched * pageSize
            node = target
        }
        return canonical
    }

    // MARK: Structure

    /// Splits node `index` so that its first `page` pages form a new parent; returns the parent.
    private mutating func split(_ index: Int, atPage page: Int) -> Int {
        guard var child = nodes[index], page > 0, page < child.pages.count else { return index }
        let cut = page * pageSize
        let head = Node(
            parent: child.parent, tokens: Array(child.tokens[..<cut]), pages: Array(child.pages[..<page]),
            lastAccess: child.lastAccess)
        let headIndex = allocateNode(head)
        let key = Array(child.tokens[0..<pageSize])
        nodes[child.parent]?.children[key] = headIndex
        child.parent = headIndex
        child.tokens = Array(child.tokens[cut...])
        child.pages = Array(child.pages[page...])
        nodes[headIndex]?.children[Array(child.tokens[0..<pageSize])] = index
        nodes[index] = child
        return headIndex
    }

    private mutating func allocateNode(_ node: Node) -> Int {
        if let slot = freeSlots.popLast() {
            nodes[slot] = node
            return slot
        }
        nodes.append(node)
        return nodes.count - 1
    }

    /// Removes a leaf and drops the tree's references to its pages.
    mutating func removeLeaf(_ index: Int, pool: inout KVPool) {
        guard index != Self.root, let node = nodes[index], node.children.isEmpty else { return }
        for page in node.pages { pool.dropFromCache(page) }
        nodes[node.parent]?.children[Array(node.tokens[0..<pageSize])] = nil
        nodes[index] = nil
        freeSlots.append(index)
    }
}
