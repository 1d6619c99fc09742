public import Hummingbird

extension ServerContext {
    /// The router with every route, the error mapping and (with `--api-key`) authentication.
    public func makeRouter() -> Router<ServerRequestContext> {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: ErrorMiddleware(maxBodyBytes: configuration.maxBodyBytes))
        if let apiKey = configuration.apiKey, !apiKey.isEmpty {
            router.add(middleware: AuthMiddleware(apiKey: apiKey))
        }
        let info = InfoRoutes(server: self)
        let chat = ChatCompletionsRoute(server: self)
        let completions = CompletionsRoute(server: self)
        let generate = GenerateRoute(server: self)
        let tokenize = TokenizeRoutes(server: self)

        router.get("/health") { _, _ in try info.health() }
        router.get("/health_generate") { _, _ in try await info.healthGenerate() }
        router.get("/metrics") { _, _ in info.metrics() }
        router.get("/get_model_info") { _, _ in try info.modelInfo() }
        router.get("/get_server_info") { _, _ in try info.serverInfo() }
        router.get("/flush_cache") { _, _ in try await info.flushCache() }
        router.post("/flush_cache") { _, _ in try await info.flushCache() }

        router.get("/v1/models") { _, _ in try info.models() }
        router.get("/v1/models/**") { _, context in
            try info.model(context.parameters.getCatchAll().joined(separator: "/"))
        }
        router.post("/v1/chat/completions") { request, context in try await chat.handle(request, context: context) }
        router.post("/v1/completions") { request, context in
            try await completions.handle(request, context: context)
        }

        router.post("/generate") { request, context in try await generate.handle(request, context: context) }
        router.put("/generate") { request, context in try await generate.handle(request, context: context) }
        for prefix in ["", "/v1"] {
            router.post("\(prefix)/tokenize") { request, _ in try await tokenize.tokenize(request) }
            router.post("\(prefix)/detokenize") { request, _ in try await tokenize.detokenize(request) }
        }
        return router
    }
}
