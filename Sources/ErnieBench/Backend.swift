/// `--backend` of `bench-serving`: which API the requests go to (SGLang's `ASYNC_REQUEST_FUNCS`).
public enum BenchBackend: String, Sendable, CaseIterable {
    case sglang
    case sglangNative = "sglang-native"
    case sglangOAI = "sglang-oai"
    case sglangOAIChat = "sglang-oai-chat"
    case vllm
    case vllmChat = "vllm-chat"

    /// The three request functions.
    public enum API: Sendable {
        case native, completions, chat
    }

    public var api: API {
        switch self {
        case .sglang, .sglangNative: return .native
        case .sglangOAI, .vllm: return .completions
        case .sglangOAIChat, .vllmChat: return .chat
        }
    }

    /// The port used when `--port` is not given: SGLang's table (8000 for vLLM, 30000 for everything else).
    public var defaultPort: Int {
        self == .vllm ? 8000 : 30000
    }

    /// The request path.
    public var path: String {
        switch api {
        case .native: return "/generate"
        case .completions: return "/v1/completions"
        case .chat: return "/v1/chat/completions"
        }
    }

    /// SGLang queries `/get_server_info` (accept length) and honours `SGLANG_IS_IN_CI` only for backends whose name
    /// contains "sglang".
    public var isSGLang: Bool { rawValue.contains("sglang") }
}
