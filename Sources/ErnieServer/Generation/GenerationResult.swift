public import ErnieRuntime

/// Everything one engine request produced, accumulated from its outputs.
public struct GenerationResult: Sendable {
    public var text = ""
    public var tokens: [Int] = []
    public var outputLogprobs: [LogprobEntry] = []
    /// Prompt log-probabilities from the requested start, `nil` entries where none exists (the first prompt token).
    public var inputLogprobs: [LogprobEntry?]?
    public var promptTokens = 0
    public var completionTokens = 0
    public var cachedTokens = 0
    public var finishReason: FinishReason?

    public init() {}

    /// Adds one engine output.
    public mutating func add(_ output: GenerationOutput) {
        text += output.text
        tokens += output.newTokens
        outputLogprobs += output.outputLogprobs
        if let input = output.inputLogprobs { inputLogprobs = input }
        promptTokens = output.promptTokens
        completionTokens = output.completionTokens
        cachedTokens = output.cachedTokens
        if let reason = output.finishReason { finishReason = reason }
    }
}

extension FinishReason {
    /// OpenAI's `finish_reason`.
    var openAI: String {
        switch self {
        case .length: "length"
        case .stopToken, .stopString: "stop"
        case .abort: "abort"
        }
    }

    /// What stopped the request, SGLang's `matched_stop`: the token id or the string; `nil` otherwise.
    var matched: JSONValue? {
        switch self {
        case .stopToken(let id): .int(id)
        case .stopString(let text): .string(text)
        case .length, .abort: nil
        }
    }

    /// SGLang's `finish_reason` object: `{"type": "stop", "matched": ...}`, `{"type": "length", "length": n}`,
    /// `{"type": "abort", "message": ...}`.
    func native(completionTokens: Int) -> JSONValue {
        switch self {
        case .length: ["type": "length", "length": .int(completionTokens)]
        case .stopToken(let id): ["type": "stop", "matched": .int(id)]
        case .stopString(let text): ["type": "stop", "matched": .string(text)]
        case .abort(let message): ["type": "abort", "message": .string(message)]
        }
    }
}

extension ServerContext {
    /// Turns results that did not finish normally (aborted by the engine or by shutdown) into an HTTP error.
    func checkFinished(_ results: [GenerationResult]) throws(APIError) {
        for result in results {
            switch result.finishReason {
            case .length?, .stopToken?, .stopString?:
                continue
            case .abort(let message)?:
                if isStopping { throw .unavailable("The server is shutting down.") }
                throw .internalError("The request was aborted: \(message)")
            case nil:
                if isStopping { throw .unavailable("The server is shutting down.") }
                throw .internalError("The request ended without a result.")
            }
        }
    }
}
