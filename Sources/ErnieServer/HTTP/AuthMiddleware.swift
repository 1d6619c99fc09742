import Hummingbird

/// `--api-key`: every route except `/health` and `/metrics` needs `Authorization: Bearer <key>`; otherwise 401.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKey: String
    static var openPaths: Set<String> { ["/health", "/metrics"] }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    )
        async throws -> Response
    {
        if Self.openPaths.contains(request.uri.path) || isAuthorized(request.headers[.authorization]) {
            return try await next(request, context)
        }
        throw APIError.unauthorized
    }

    /// Compares the bearer token with the key in time independent of where they differ.
    func isAuthorized(_ header: String?) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        let given = Array(header.utf8.dropFirst("Bearer ".utf8.count))
        let expected = Array(apiKey.utf8)
        guard given.count == expected.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(given, expected) { difference |= a ^ b }
        return difference == 0
    }
}
