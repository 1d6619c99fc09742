public import Hummingbird
public import NIOCore

/// The request context of every route: Hummingbird's core storage plus the client's connection, so a generation can
/// be aborted as soon as its client leaves.
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's connection.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
