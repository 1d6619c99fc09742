public import Hummingbird

/// Builds JSON responses.
public enum JSONResponse {
    /// Encodes `value` as compact JSON, keys in the order they are encoded.
    public static func encode(_ value: some Encodable) throws -> ByteBuffer {
        ByteBuffer(bytes: JSONWriter.bytes(try JSONValueEncoder().encode(value)))
    }

    /// A response with `value` as its JSON body.
    public static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let body = try encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json", .contentLength: String(body.readableBytes)],
            body: ResponseBody(byteBuffer: body)
        )
    }
}

extension APIError: HTTPResponseError {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try response()
    }

    /// The JSON error response.
    public func response() throws -> Response {
        var response = try JSONResponse.make(APIErrorEnvelope(error: self), status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}

/// `{"error": {"message", "type", "param", "code"}}`, with `null` for a missing param or code.
struct APIErrorEnvelope: Encodable {
    var error: APIError

    private enum Keys: String, CodingKey {
        case error, message, type, param, code
    }

    func encode(to encoder: any Encoder) throws {
        var outer = encoder.container(keyedBy: Keys.self)
        var inner = outer.nestedContainer(keyedBy: Keys.self, forKey: .error)
        try inner.encode(error.message, forKey: .message)
        try inner.encode(error.type, forKey: .type)
        try inner.encode(error.param, forKey: .param)
        try inner.encode(error.code, forKey: .code)
    }
}
