import Hummingbird

/// vLLM's `POST /tokenize` and `POST /detokenize`.
struct TokenizeRoutes: Sendable {
    let server: ServerContext

    /// `{"prompt": text}` or `{"messages": [...], "add_generation_prompt": bool, "tools": [...]}` →
    /// `{"count", "max_model_len", "tokens"}` (+ `token_strs` with `return_token_strs`).
    func tokenize(_ request: Request) async throws -> Response {
        let body = try await server.readBody(request)
        let server = self.server
        let result = try await server.prepare(bodySize: body.count) { () throws(APIError) -> JSONValue in
            let reader = try FieldReader(try parseJSONBody(body), param: nil)
            try server.checkModel(try reader.string("model"))
            let tokens: [Int]
            if reader.has("messages") {
                let messages = try ChatMessages.parse(reader.object["messages"])
                let text = try server.renderChat(
                    messages: messages, tools: try ChatMessages.parseTools(reader.value("tools")),
                    addGenerationPrompt: try reader.bool("add_generation_prompt") ?? true,
                    kwargs: try reader.object("chat_template_kwargs"))
                tokens = try server.encode(text)
            } else if let prompt = try reader.string("prompt") {
                _ = try reader.bool("add_special_tokens")
                tokens = try server.encode(prompt)
            } else {
                throw .badRequest("Give 'prompt' (a string) or 'messages'.")
            }
            var object: JSONObject = [
                "count": .int(tokens.count),
                "max_model_len": .int(server.model.contextLength),
                "tokens": .array(tokens.map { .int($0) }),
            ]
            if try reader.bool("return_token_strs") ?? false {
                object["token_strs"] = .array(tokens.map { .string(server.tokenText($0)) })
            }
            return .object(object)
        }
        return try JSONResponse.make(result)
    }

    /// `{"tokens": [...]}` → `{"prompt": text}`.
    func detokenize(_ request: Request) async throws -> Response {
        let body = try await server.readBody(request)
        let server = self.server
        let result = try await server.prepare(bodySize: body.count) { () throws(APIError) -> JSONValue in
            let reader = try FieldReader(try parseJSONBody(body), param: nil)
            try server.checkModel(try reader.string("model"))
            guard let tokens = try reader.intList("tokens") else {
                throw .invalidParameter("tokens", "'tokens' is required.")
            }
            try server.checkTokenIDs(tokens, param: "tokens")
            let tokenizer = try server.requireTokenizer()
            return ["prompt": .string(tokenizer.decode(tokens, skipSpecialTokens: false))]
        }
        return try JSONResponse.make(result)
    }
}
