/// The pages of the paged KV cache: reference counts and a free list.
///
/// A page's owners are the live sequences whose page table lists it (one reference each) and the prefix cache (one
/// reference while the page is in the radix tree). A page with no owner is on the free list. A page held only by the
/// prefix cache is "cache-only": it can be evicted to make room.
///
/// A value type owned by the scheduler on the engine thread.
struct KVPool: Sendable, Equatable {
    /// Number of pages.
    let pageCount: Int
    /// Tokens per page.
    let pageSize: Int
    private var refCounts: [Int32]
    private var inCache: [Bool]
    /// Free pages; the next allocation pops from the end.
    private var freeList: [Int32]
    /// Pages held by the prefix cache and by nothing else.
    private(set) var cacheOnlyCount: Int = 0

    init(pageCount: Int, pageSize: Int) {
        self.pageCount = max(0, pageCount)
        self.pageSize = max(1, pageSize)
        refCounts = [Int32](repeating: 0, count: self.pageCount)
        inCache = [Bool](repeating: false, count: self.pageCount)
        // Reversed so that allocation hands out low page numbers first.
        freeList = (0..<Int32(self.pageCount)).reversed()
    }

    var freeCount: Int { freeList.count }
    /// Pages owned by at least one live sequence.
    var usedCount: Int { pageCount - freeList.count - cacheOnlyCount }
    var capacityTokens: Int { pageCount * pageSize }

    /// Pages needed to hold `tokens` KV entries.
    func pagesFor(tokens: Int) -> Int { (tokens + pageSize - 1) / pageSize }

    func refCount(_ page: Int32) -> Int { Int(refCounts[Int(page)]) }
    func isInCache(_ page: Int32) -> Bool { inCache[Int(page)] }
    func isCacheOnly(_ page: Int32) -> Bool { inCache[Int(page)] && refCounts[Int(page)] == 1 }

    /// Takes `count` free pages, each with one reference owned by the caller, or nothing when fewer are free.
    mutating func allocate(_ count: Int) -> [Int32]? {
        guard count <= freeList.count else { return nil }
        guard count > 0 else { return [] }
        let pages = Array(freeList.suffix(count).reversed())
        freeList.removeLast(count)
        for page in pages {
            assert(refCounts[Int(page)] == 0 && !inCache[Int(page)], "allocated page \(page) was not free")
            refCounts[Int(page)] = 1
        }
        return pages
    }

    /// Adds a sequence's reference to a page that is already owned.
    mutating func retain(_ page: Int32) {
        let i = Int(page)
        assert(refCounts[i] > 0, "retain of free page \(page)")
        let wasCacheOnly = isCacheOnly(page)
        refCounts[i] += 1
        if wasCacheOnly { cacheOnlyCount -= 1 }
    }

    /// Drops one reference; the page returns to the free list when none is left.
    mutating func release(_ page: Int32) {
        let i = Int(page)
        assert(refCounts[i] > 0, "release of free page \(page)")
        let wasCacheOnly = isCacheOnly(page)
        refCounts[i] -= 1
        if wasCacheOnly { cacheOnlyCount -= 1 }
        if isCacheOnly(page) { cacheOnlyCount += 1 }
        if refCounts[i] == 0 { freeList.append(page) }
    }

    /// The prefix cache takes a reference to a page it now lists.
    mutating func adoptIntoCache(_ page: Int32) {
        let i = Int(page)
        assert(refCounts[i] > 0 && !inCache[i], "cache adoption of page \(page) that is free or already cached")
        refCounts[i] += 1
        inCache[i] = true
        if isCacheOnly(page) { cacheOnlyCount += 1 }
    }

    /// The prefix cache drops a page it no longer lists.
    mutating func dropFromCache(_ page: Int32) {
        let i = Int(page)
        assert(inCache[i], "page \(page) is not in the cache")
        if isCacheOnly(page) { cacheOnlyCount -= 1 }
        inCache[i] = false
        refCounts[i] -= 1
        if refCounts[i] == 0 { freeList.append(page) }
    }

    /// Checks the bookkeeping from scratch (tests, debug assertions): every page is free xor referenced, the free list
    /// has no duplicates, and the cache-only count matches.
    func auditProblems() -> [String] {
        var problems: [String] = []
        var seen = [Bool](repeating: false, count: pageCount)
        for page in freeList {
            let i = Int(page)
            if seen[i] { problems.append("page \(page) is twice on the free list") }
            seen[i] = true
            if refCounts[i] != 0 || inCache[i] { problems.append("free page \(page) is still referenced") }
        }
        var cacheOnly = 0
        for i in 0..<pageCount {
            if !seen[i] && refCounts[i] == 0 { problems.append("page \(i) is neither free nor referenced (leak)") }
            if inCache[i] && refCounts[i] == 1 { cacheOnly += 1 }
            if inCache[i] && refCounts[i] < 1 { problems.append("cached page \(i) has no reference") }
        }
        if cacheOnly != cacheOnlyCount {
            problems.append("cache-only count \(cacheOnlyCount) but \(cacheOnly) pages are cache-only")
        }
        return problems
    }
}
