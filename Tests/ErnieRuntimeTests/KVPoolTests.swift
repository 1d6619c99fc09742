import Testing

@testable import ErnieRuntime

@Suite struct KVPoolTests {
    @Test func allocatesLowPagesFirstAndRefusesOverdraw() {
        var pool = KVPool(pageCount: 4, pageSize: 8)
        #expect(pool.capacityTokens == 32)
        #expect(pool.allocate(3) == [0, 1, 2])
        #expect(pool.freeCount == 1)
        #expect(pool.allocate(2) == nil)
        #expect(pool.freeCount == 1, "a refused allocation takes nothing")
        #expect(pool.allocate(1) == [3])
        #expect(pool.usedCount == 4)
        #expect(pool.auditProblems().isEmpty)
    }

    @Test func referenceCountsFreeOnLastRelease() {
        var pool = KVPool(pageCount: 2, pageSize: 4)
        let page = pool.allocate(1)![0]
        pool.retain(page)
        #expect(pool.refCount(page) == 2)
        pool.release(page)
        #expect(pool.freeCount == 1)
        pool.release(page)
        #expect(pool.freeCount == 2)
        #expect(pool.refCount(page) == 0)
        #expect(pool.auditProblems().isEmpty)
    }

    @Test func cacheOnlyPagesAreCountedApart() {
        var pool = KVPool(pageCount: 3, pageSize: 4)
        let pages = pool.allocate(2)!
        for page in pages { pool.adoptIntoCache(page) }
        #expect(pool.cacheOnlyCount == 0, "still held by the sequence")
        #expect(pool.usedCount == 2)
        pool.release(pages[0])
        #expect(pool.cacheOnlyCount == 1)
        #expect(pool.usedCount == 1)
        pool.retain(pages[0])  // a new sequence reuses the cached page
        #expect(pool.cacheOnlyCount == 0)
        pool.release(pages[0])
        pool.release(pages[1])
        #expect(pool.cacheOnlyCount == 2)
        #expect(pool.usedCount == 0)
        pool.dropFromCache(pages[0])
        #expect(pool.cacheOnlyCount == 1)
        #expect(pool.freeCount == 2)
        #expect(pool.auditProblems().isEmpty)
    }

    @Test func pagesForRoundsUp() {
        let pool = KVPool(pageCount: 1, pageSize: 16)
        #expect(pool.pagesFor(tokens: 0) == 0)
        #expect(pool.pagesFor(tokens: 1) == 1)
        #expect(pool.pagesFor(tokens: 16) == 1)
        #expect(pool.pagesFor(tokens: 17) == 2)
    }
}
