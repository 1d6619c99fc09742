public import Hummingbird

/// Writes a `text/event-stream` body: one `data: <json>\n\n` event per value, `data: [DONE]\n\n` at the end.
public struct ServerSentEventWriter {
    private var writer: any ResponseBodyWriter

    init(_ writer: any ResponseBodyWriter) {
        self.writer = writer
    }

    /// The bytes of one event carrying `payload`.
    public static func event(_ payload: some Sequence<UInt8>) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("data: ")
        buffer.writeBytes(payload)
        buffer.writeString("\n\n")
        return buffer
    }

    /// Sends `value` as one JSON event.
    public mutating func send(_ value: some Encodable) async throws {
        try await writer.write(Self.event(JSONWriter.bytes(try JSONValueEncoder().encode(value))))
    }

    /// Sends the final `data: [DONE]` event and ends the body.
    public consuming func finish() async throws {
        try await writer.write(Self.event(Array("[DONE]".utf8)))
        try await writer.finish(nil)
    }

    /// A streaming response whose body `produce` writes.
    public static func response(
        _ produce: @escaping @Sendable (inout ServerSentEventWriter) async throws -> Void
    ) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                var events = ServerSentEventWriter(writer)
                try await produce(&events)
                try await events.finish()
            }
        )
    }
}
