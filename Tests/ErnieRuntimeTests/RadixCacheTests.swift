import Testing

@testable import ErnieRuntime

@Suite struct RadixCacheTests {
    /// Allocates pages for `tokens` as a sequence would and caches the full ones; returns the sequence's pages.
    private func cacheSequence(_ tokens: [Int32], _ cache: inout RadixCache, _ pool: inout KVPool) -> [Int32] {
        let full = tokens.count / pool.pageSize
        var pages = pool.allocate(pool.pagesFor(tokens: tokens.count))!
        let canonical = cache.insert(
            Array(tokens[0..<full * pool.pageSize]), pages: Array(pages[0..<full]), pool: &pool)
        for (i, page) in canonical.enumerated() where page != pages[i] {
            pool.retain(page)
            pool.release(pages[i])
            pages[i] = page
        }
        return pages
    }

    @Test func matchesWholePagesOnly() {
        var pool = KVPool(pageCount: 16, pageSize: 4)
        var cache = RadixCache(pageSize: 4, isEnabled: true)
        let tokens: [Int32] = Array(0..<10)  // two full pages and a partial one
        let pages = cacheSequence(tokens, &cache, &pool)
        for page in pages { pool.release(page) }
        #expect(cache.pageCount == 2)
        #expect(pool.cacheOnlyCount == 2)
        #expect(pool.freeCount == 14, "the partial page is not cached")
        #expect(cache.match(tokens, limit: 100) == Array(pages[0..<2]))
        #expect(cache.match(Array(0..<7), limit: 100) == [pages[0]], "7 tokens cover one whole page")
        #expect(cache.match(tokens, limit: 7) == [pages[0]], "the limit is respected")
        #expect(cache.match([0, 1, 2, 9, 4], limit: 100) == [], "first page differs")
        #expect(cache.match([0, 1, 2, 3, 4, 5, 6, 0], limit: 100) == [pages[0]])
        #expect(cache.auditProblems(pool: pool).isEmpty)
        #expect(pool.auditProblems().isEmpty)
    }

    @Test func splitsNodesAndSharesPrefixes() {
        var pool = KVPool(pageCount: 32, pageSize: 2)
        var cache = RadixCache(pageSize: 2, isEnabled: true)
        let a: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8]
        let b: [Int32] = [1, 2, 3, 4, 9, 9, 9, 9]
        let pa = cacheSequence(a, &cache, &pool)
        let pb = cacheSequence(b, &cache, &pool)
        #expect(pb[0..<2] == pa[0..<2], "b switched to a's cached prefix pages")
        #expect(pb[2..<4] != pa[2..<4])
        #expect(cache.nodeCount == 4, "root, shared head, two tails")
        #expect(cache.match(a, limit: 8) == pa)
        #expect(cache.match(b, limit: 8) == pb)
        // A match ending inside a node splits it, so the matched prefix is a whole path.
        #expect(cache.match([1, 2, 3, 4, 5, 6, 0, 0], limit: 8) == Array(pa[0..<3]))
        #expect(cache.nodeCount == 5)
        #expect(cache.auditProblems(pool: pool).isEmpty)
        for page in pa + pb { pool.release(page) }
        #expect(pool.usedCount == 0)
        #expect(pool.cacheOnlyCount == 6)
        #expect(pool.auditProblems().isEmpty)
    }

    @Test func duplicateInsertKeepsCachedPages() {
        var pool = KVPool(pageCount: 8, pageSize: 2)
        var cache = RadixCache(pageSize: 2, isEnabled: true)
        let tokens: [Int32] = [5, 6, 7, 8]
        let first = pool.allocate(2)!
        let second = pool.allocate(2)!
        #expect(cache.insert(tokens, pages: first, pool: &pool) == first)
        #expect(cache.insert(tokens, pages: second, pool: &pool) == first, "the cached copy wins")
        for page in second { pool.release(page) }
        #expect(pool.freeCount == 6)
        for page in first { pool.release(page) }
        #expect(pool.cacheOnlyCount == 2)
        #expect(pool.auditProblems().isEmpty)
    }

    @Test func evictsLeastRecentlyUsedUnreferencedLeaves() {
        var pool = KVPool(pageCount: 6, pageSize: 2)
        var cache = RadixCache(pageSize: 2, isEnabled: true)
        let old = cacheSequence([1, 1, 1, 1], &cache, &pool)
        let held = cacheSequence([2, 2], &cache, &pool)
        let recent = cacheSequence([3, 3], &cache, &pool)
        for page in old + recent { pool.release(page) }
        #expect(pool.freeCount == 2)
        _ = cache.match([3, 3], limit: 2)  // touch `recent`
        // Needs one more page: evicts the LRU leaf ([1,1,1,1], two pages), never the held one.
        #expect(cache.evict(pages: 1, pool: &pool) == 2)
        #expect(cache.match([1, 1, 1, 1], limit: 4) == [])
        #expect(cache.match([3, 3], limit: 2) == recent)
        #expect(cache.match([2, 2], limit: 2) == held)
        // Everything unreferenced can go; the held page stays.
        #expect(cache.evict(pages: 10, pool: &pool) == 1)
        #expect(cache.match([2, 2], limit: 2) == held)
        #expect(pool.freeCount == 5)
        #expect(cache.auditProblems(pool: pool).isEmpty)
        #expect(pool.auditProblems().isEmpty)
    }

    @Test func evictionWalksUpToParents() {
        var pool = KVPool(pageCount: 8, pageSize: 1)
        var cache = RadixCache(pageSize: 1, isEnabled: true)
        let a = cacheSequence([1, 2, 3], &cache, &pool)
        let b = cacheSequence([1, 2, 4], &cache, &pool)
        for page in a + b { pool.release(page) }
        #expect(pool.cacheOnlyCount == 4)
        #expect(cache.evict(pages: 8, pool: &pool) == 4)
        #expect(cache.nodeCount == 1)
        #expect(pool.freeCount == 8)
    }

    @Test func flushIsRefusedWhileAPageIsHeld() {
        var pool = KVPool(pageCount: 4, pageSize: 2)
        var cache = RadixCache(pageSize: 2, isEnabled: true)
        let pages = cacheSequence([1, 2, 3, 4], &cache, &pool)
        let refused = cache.flush(pool: &pool)
        #expect(!refused)
        for page in pages { pool.release(page) }
        let flushed = cache.flush(pool: &pool)
        #expect(flushed)
        #expect(pool.freeCount == 4)
        #expect(cache.nodeCount == 1)
    }

    @Test func disabledCacheNeverMatchesOrAdopts() {
        var pool = KVPool(pageCount: 4, pageSize: 2)
        var cache = RadixCache(pageSize: 2, isEnabled: false)
        let pages = pool.allocate(2)!
        #expect(cache.insert([1, 2, 3, 4], pages: pages, pool: &pool) == pages)
        #expect(cache.match([1, 2, 3, 4], limit: 4) == [])
        for page in pages { pool.release(page) }
        #expect(pool.freeCount == 4)
    }
}
