public import Hummingbird
import Logging
import NIOCore
public import ServiceLifecycle
import UnixSignals

/// Runs the engine for the lifetime of the server: started with the service group, shut down (in-flight requests
/// finished or aborted by the engine) on graceful shutdown.
public struct EngineService: Service {
    let engine: any ServingEngine
    let server: ServerContext

    public init(engine: any ServingEngine, server: ServerContext) {
        self.engine = engine
        self.server = server
    }

    public func run() async throws {
        engine.start()
        try? await gracefulShutdown()
        server.logger.info("Shutting down: refusing new requests, ending the ones in flight")
        server.beginStopping()
        await engine.shutdown()
    }
}

/// Starts `ernie serve`'s HTTP server and runs it with the engine until SIGTERM or SIGINT.
public enum ServerRunner {
    /// The Hummingbird application for `server`; `onListening` gets the bound host and port.
    public static func makeApplication(
        _ server: ServerContext, onListening: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: server.makeRouter(),
            server: .http1(configuration: .init(additionalChannelHandlers: [ClientCloseWatcher()])),
            configuration: ApplicationConfiguration(
                address: .hostname(server.configuration.host, port: server.configuration.port),
                serverName: "ernie-serve/\(ErnieServeVersion.string)", backlog: 1024),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? server.configuration.port
                onListening(server.configuration.host, port)
            },
            logger: server.logger
        )
    }

    /// Serves until SIGTERM/SIGINT, then shuts down gracefully: the engine stops admitting work and ends what is in
    /// flight, open responses complete, the listener closes. Returns normally after a clean shutdown.
    public static func run(
        _ server: ServerContext, engine: any ServingEngine, onListening: @escaping @Sendable (String, Int) -> Void
    ) async throws {
        let app = makeApplication(server, onListening: onListening)
        // Services shut down in reverse order: the engine first (so streams end), then the HTTP server.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: app),
                    .init(service: EngineService(engine: engine, server: server)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: server.logger
            ))
        try await group.run()
    }
}
