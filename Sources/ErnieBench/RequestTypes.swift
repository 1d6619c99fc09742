/// A prompt as sent: text, or token ids (`--tokenize-prompt`, native backend only).
public enum Prompt: Sendable, Equatable {
    case text(String)
    case ids([Int])
}

/// One request of a dataset (SGLang's `DatasetRow`).
public struct DatasetRow: Sendable, Equatable {
    public var prompt: Prompt
    /// The intended prompt length in tokens ("Total input tokens" sums these).
    public var promptLen: Int
    public var outputLen: Int

    public init(prompt: Prompt, promptLen: Int, outputLen: Int) {
        self.prompt = prompt
        self.promptLen = promptLen
        self.outputLen = outputLen
    }
}

/// Everything a request function needs (SGLang's `RequestFuncInput`).
public struct RequestInput: Sendable {
    public var prompt: Prompt
    public var promptLen: Int
    public var outputLen: Int
    public var model: String
    public var extraBody: [(String, JSONValue)]

    public init(prompt: Prompt, promptLen: Int, outputLen: Int, model: String, extraBody: [(String, JSONValue)] = []) {
        self.prompt = prompt
        self.promptLen = promptLen
        self.outputLen = outputLen
        self.model = model
        self.extraBody = extraBody
    }
}

/// What one request measured (SGLang's `RequestFuncOutput`). Times are seconds; `startTime` is on the benchmark's
/// monotonic clock.
public struct RequestOutput: Sendable {
    public var generatedText = ""
    public var success = false
    /// From just before the POST to the last line of the stream (including `[DONE]`).
    public var latency = 0.0
    /// From just before the POST to the first chunk with non-empty text.
    public var ttft = 0.0
    /// Inter-token latencies: one per later content chunk (OpenAI), one per new token (native).
    public var itl: [Double] = []
    /// Texts of the content chunks after the first (OpenAI backends), for the speculative-decoding ITL split.
    public var textChunks: [String] = []
    public var promptLen = 0
    public var error = ""
    public var outputLen = 0
    public var startTime = 0.0

    public init() {}
}
