import Hummingbird

/// Turns every error a route throws into OpenAI's JSON error shape: ``APIError`` as it is, Hummingbird's
/// `HTTPError`s (unknown route, body too large, ...) with their status, anything else as a 500.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The body limit, for 413 messages.
    let maxBodyBytes: Int

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    )
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response()
        } catch let error as HTTPError {
            return try apiError(error, request: request).response()
        } catch {
            context.logger.error(
                "Request failed: \(String(reflecting: error))", metadata: ["request.path": "\(request.uri.path)"])
            return try APIError.internalError("Internal server error: \(error)").response()
        }
    }

    func apiError(_ error: HTTPError, request: Request) -> APIError {
        switch error.status {
        case .notFound:
            return .routeNotFound(request.method, request.uri.path)
        case .contentTooLarge:
            return .bodyTooLarge(limit: maxBodyBytes)
        default:
            let type = error.status.code >= 500 ? "server_error" : "invalid_request_error"
            return APIError(
                status: error.status, message: error.body ?? error.status.reasonPhrase, type: type,
                headers: error.headers)
        }
    }
}
