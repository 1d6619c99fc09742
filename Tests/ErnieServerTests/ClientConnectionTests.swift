import Synchronization
import Testing

@testable import ErnieServer

@Suite struct ClientConnectionTests {
    final class Counter: Sendable {
        let value = Mutex(0)
        func bump() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    @Test func actionsRunOnceWhenTheClientLeaves() {
        let connection = ClientConnection()
        let kept = Counter()
        let cancelled = Counter()
        #expect(connection.onClose { kept.bump() } != nil)
        let token = connection.onClose { cancelled.bump() }
        if let token { connection.cancel(token) }
        connection.markClosed()
        connection.markClosed()
        #expect(kept.count == 1)
        #expect(cancelled.count == 0)
        let late = Counter()
        #expect(connection.onClose { late.bump() } == nil, "registering after the close runs the action at once")
        #expect(late.count == 1)
    }
}
