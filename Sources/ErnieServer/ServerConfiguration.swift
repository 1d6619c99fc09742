/// HTTP-side settings of `ernie serve`.
public struct ServerConfiguration: Sendable {
    /// `--host`.
    public var host: String
    /// `--port`; 0 picks a free port (the bound one is logged).
    public var port: Int
    /// `--api-key`: when set, every route but `/health` and `/metrics` needs `Authorization: Bearer <key>`.
    public var apiKey: String?
    /// Largest request body accepted; larger ones get 413.
    public var maxBodyBytes: Int
    /// Bodies above this size are parsed and tokenized on the thread pool instead of the cooperative pool.
    public var offloadBodyBytes: Int
    /// Every server argument, reported by `/get_server_info` (SGLang's snake_case names).
    public var serverArgs: JSONObject
    /// Seconds `/health_generate` waits for its one-token generation.
    public var healthCheckTimeoutSeconds: Int
    /// `--tool-call-parser`: turns tool-call blocks of chat output into OpenAI `tool_calls`.
    public var toolCallParser: OutputParser?
    /// `--reasoning-parser`: splits chat output into `reasoning_content` and `content`.
    public var reasoningParser: OutputParser?

    public init(
        host: String = "127.0.0.1", port: Int = 30000, apiKey: String? = nil, maxBodyBytes: Int = 32 << 20,
        offloadBodyBytes: Int = 64 << 10, serverArgs: JSONObject = JSONObject(),
        healthCheckTimeoutSeconds: Int = 20, toolCallParser: OutputParser? = nil, reasoningParser: OutputParser? = nil
    ) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.maxBodyBytes = maxBodyBytes
        self.offloadBodyBytes = offloadBodyBytes
        self.serverArgs = serverArgs
        self.healthCheckTimeoutSeconds = healthCheckTimeoutSeconds
        self.toolCallParser = toolCallParser
        self.reasoningParser = reasoningParser
    }
}

/// Model-specific output parsers (`--tool-call-parser`, `--reasoning-parser`).
public enum OutputParser: String, Sendable, CaseIterable {
    /// ERNIE-4.5 (the Thinking model's `</think>`, `<response>` and `<tool_call>` format).
    case ernie45
}
