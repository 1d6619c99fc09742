import NIOCore
import Synchronization

/// One client connection as the generation routes see it: whether the client has closed it, and what to do then
/// (abort its requests). Fed by ``ClientCloseWatcher`` on the connection's event loop.
final class ClientConnection: Sendable {
    private struct State {
        var isClosed = false
        var nextToken = 0
        var actions: [Int: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    /// Runs `action` once the client closes the connection (at once when it already has). Returns a token for
    /// ``cancel(_:)``, or nil when the action already ran.
    func onClose(_ action: @escaping @Sendable () -> Void) -> Int? {
        let token: Int? = state.withLock { state in
            guard !state.isClosed else { return nil }
            state.nextToken += 1
            state.actions[state.nextToken] = action
            return state.nextToken
        }
        if token == nil { action() }
        return token
    }

    /// Forgets an action (its request is over).
    func cancel(_ token: Int) {
        _ = state.withLock { $0.actions.removeValue(forKey: token) }
    }

    /// The client closed its side of the connection (or the connection is gone): runs every waiting action.
    func markClosed() {
        let actions = state.withLock { state in
            state.isClosed = true
            defer { state.actions = [:] }
            return Array(state.actions.values)
        }
        for action in actions { action() }
    }
}

/// A pass-through channel handler that notices when the client closes its side of the connection. HTTP/1 servers
/// here allow half-closure, so a client that goes away does not close the channel until a write fails; a request
/// that writes nothing for a while (a non-streaming completion) would otherwise run to its end.
final class ClientCloseWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    let connection = ClientConnection()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent { connection.markClosed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.markClosed()
        context.fireChannelInactive()
    }
}

extension Channel {
    /// The connection state kept by this channel's ``ClientCloseWatcher``; nil when it has none (in-process tests).
    func clientConnection() async -> ClientConnection? {
        try? await pipeline.handler(type: ClientCloseWatcher.self).map { $0.connection }.get()
    }
}
