import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The benchmarks' HTTP client: AsyncHTTPClient with a connection pool large enough for the concurrency asked for
/// (SGLang opens one aiohttp session per request; a kept-alive pooled connection saves only the local TCP handshake).
public final class BenchHTTPClient: Sendable {
    let client: HTTPClient
    /// `Authorization` from `OPENAI_API_KEY` (as `Bearer …`) or `API_KEY` (sent as is), like SGLang.
    let authorization: String?

    /// A client that keeps up to `connections` connections to one host open.
    public init(connections: Int, environment: [String: String] = ProcessInfo.processInfo.environment) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, connections))
        // A refused connection fails the request at once, as with aiohttp (no retries until the connect timeout).
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(30))
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        if let key = environment["OPENAI_API_KEY"], !key.isEmpty {
            authorization = "Bearer \(key)"
        } else if let key = environment["API_KEY"], !key.isEmpty {
            authorization = key
        } else {
            authorization = nil
        }
    }

    public func shutdown() async throws { try await client.shutdown() }

    func request(_ url: String, method: HTTPMethod, json: JSONValue?) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json.serialized()))
        }
        return request
    }

    /// A whole response: status, reason and body bytes (at most `limit` bytes are kept).
    public struct Response: Sendable {
        public var status: Int
        public var reason: String
        public var body: [UInt8]

        /// The body parsed as JSON, or nil.
        public var json: JSONValue? { try? JSONParser.parse(body) }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends a request and reads the whole body.
    public func send(_ url: String, method: HTTPMethod = .GET, json: JSONValue? = nil, limit: Int = 64 << 20)
        async throws -> Response
    {
        let response = try await client.execute(request(url, method: method, json: json), timeout: .hours(6))
        var body = try await response.body.collect(upTo: limit)
        return Response(
            status: Int(response.status.code), reason: response.status.reasonPhrase,
            body: body.readBytes(length: body.readableBytes) ?? [])
    }

    /// Sends `json` and hands every line of the response body to `onLine` with the time it was read. Returns the
    /// status; for a status other than 200 the body is returned (as text) instead of being split into lines.
    func streamLines(
        _ url: String, json: JSONValue, onLine: (_ line: [UInt8], _ time: Double) throws -> Void
    ) async throws -> (status: Int, reason: String, errorBody: String) {
        let response = try await client.execute(request(url, method: .POST, json: json), timeout: .hours(6))
        let status = Int(response.status.code)
        guard status == 200 else {
            var body = try await response.body.collect(upTo: 1 << 20)
            return (status, response.status.reasonPhrase, body.readString(length: body.readableBytes) ?? "")
        }
        var splitter = LineSplitter()
        for try await buffer in response.body {
            try splitter.feed(buffer) { line in try onLine(line, BenchClock.now()) }
        }
        try splitter.finish { line in try onLine(line, BenchClock.now()) }
        return (status, response.status.reasonPhrase, "")
    }
}
