public import Hummingbird

/// An error answered to the client in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
///
/// Every failure of every route ends up as one of these (``ErrorMiddleware`` converts the rest), so clients always
/// get a JSON body and the status OpenAI would use.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, `server_error`, ...
    public var type: String
    /// The request field at fault, when there is one (`messages[2].role`, `temperature`).
    public var param: String?
    /// A machine-readable code (`context_length_exceeded`, `model_not_found`, ...).
    public var code: String?
    /// Extra response headers (`Retry-After`).
    public var headers: HTTPFields

    public init(
        status: HTTPResponse.Status, message: String, type: String, param: String? = nil, code: String? = nil,
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    /// 400: a field has the wrong type or value.
    public static func invalidParameter(_ param: String?, _ message: String) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param)
    }

    /// 400: something about the request as a whole is wrong.
    public static func badRequest(_ message: String, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", code: code)
    }

    /// 400: the prompt (plus the tokens asked for) does not fit the context.
    public static func contextLengthExceeded(_ message: String, param: String? = nil) -> APIError {
        APIError(
            status: .badRequest, message: message, type: "invalid_request_error", param: param,
            code: "context_length_exceeded")
    }

    /// 401: missing or wrong API key.
    public static let unauthorized = APIError(
        status: .unauthorized, message: "Incorrect API key provided. Send it as 'Authorization: Bearer <key>'.",
        type: "authentication_error", code: "invalid_api_key")

    /// 404: the model name is not the served one.
    public static func modelNotFound(_ name: String, served: String) -> APIError {
        APIError(
            status: .notFound, message: "The model '\(name)' does not exist. This server serves '\(served)'.",
            type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    /// 404: no such route.
    public static func routeNotFound(_ method: HTTPRequest.Method, _ path: String) -> APIError {
        APIError(
            status: .notFound, message: "No route for \(method.rawValue) \(path).", type: "invalid_request_error",
            code: "not_found")
    }

    /// 405: the route exists for other methods.
    public static func methodNotAllowed(_ method: HTTPRequest.Method, _ path: String) -> APIError {
        APIError(
            status: .methodNotAllowed, message: "Method \(method.rawValue) is not allowed for \(path).",
            type: "invalid_request_error", code: "method_not_allowed")
    }

    /// 413: the body is larger than the server accepts.
    public static func bodyTooLarge(limit: Int) -> APIError {
        APIError(
            status: .contentTooLarge, message: "The request body is larger than \(limit) bytes.",
            type: "invalid_request_error", code: "request_too_large")
    }

    /// 415: the body is not JSON.
    public static func unsupportedMediaType(_ contentType: String) -> APIError {
        APIError(
            status: .unsupportedMediaType, message: "Unsupported content type '\(contentType)'; send application/json.",
            type: "invalid_request_error", code: "unsupported_media_type")
    }

    /// 503 with `Retry-After`: the queue is full or the server is stopping.
    public static func unavailable(_ message: String, retryAfterSeconds: Int = 1) -> APIError {
        APIError(
            status: .serviceUnavailable, message: message, type: "server_error", code: "service_unavailable",
            headers: [.retryAfter: String(retryAfterSeconds)])
    }

    /// 500: a bug or an engine failure.
    public static func internalError(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error", code: "internal_error")
    }
}
