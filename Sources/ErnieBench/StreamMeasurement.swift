/// Turns the lines of one response into SGLang's per-request measurements. One implementation per request function;
/// each is fed the payload of every non-empty line with the time it was read.
protocol StreamMeasurement {
    /// `start` is the time just before the POST; `requestedOutputLen` is the fallback output length.
    init(start: Double, requestedOutputLen: Int)
    mutating func consume(_ payload: SSELine.Payload, at time: Double) throws
    /// The measurements of a response that ended normally.
    func finish(into output: inout RequestOutput) throws
}

/// `POST /generate` (SGLang's `async_request_sglang_generate`): `text` is cumulative; each chunk's gap is divided
/// evenly across the new tokens counted by `meta_info.completion_tokens`.
struct NativeStreamMeasurement: StreamMeasurement {
    private let start: Double
    private var ttft = 0.0
    private var itl: [Double] = []
    private var latency = 0.0
    private var outputLen: Int
    private var lastOutputLen = 0
    private var mostRecent: Double
    /// The last chunk that carried text, and where its `text` value starts: decoded once at the end.
    private var lastTextChunk: [UInt8] = []
    private var lastTextAt = -1

    init(start: Double, requestedOutputLen: Int) {
        self.start = start
        self.mostRecent = start
        self.outputLen = requestedOutputLen
    }

    mutating func consume(_ payload: SSELine.Payload, at time: Double) throws {
        latency = time - start
        guard case .json(let bytes) = payload else { return }
        let json = JSONSkimmer(bytes)
        let root = try json.validate()
        guard let textAt = try json.member("text", of: root), json.isNonEmptyString(textAt) else { return }
        guard let meta = try json.member("meta_info", of: root),
            let tokensAt = try json.member("completion_tokens", of: meta),
            let tokens = try json.int(tokensAt)
        else { throw BenchError("a /generate chunk with text has no integer meta_info.completion_tokens") }
        lastTextChunk = bytes
        lastTextAt = textAt
        outputLen = tokens
        if ttft == 0.0 {
            ttft = time - start
        } else {
            let newTokens = outputLen - lastOutputLen
            if newTokens == 0 { return }
            if newTokens > 0 {
                let share = (time - mostRecent) / Double(newTokens)
                itl.append(contentsOf: repeatElement(share, count: newTokens))
            }
        }
        mostRecent = time
        lastOutputLen = outputLen
    }

    func finish(into output: inout RequestOutput) throws {
        if lastTextAt >= 0, let text = try JSONSkimmer(lastTextChunk).string(lastTextAt) {
            output.generatedText = text
        }
        output.ttft = ttft
        output.itl = itl
        output.latency = latency
        output.outputLen = outputLen
        output.success = true
    }
}

/// `POST /v1/completions` (SGLang's `async_request_openai_completions`): one ITL per non-empty `choices[0].text`;
/// `usage.completion_tokens`, read from content chunks, overrides the requested length.
struct CompletionsStreamMeasurement: StreamMeasurement {
    private let start: Double
    private var ttft = 0.0
    private var itl: [Double] = []
    private var textChunks: [String] = []
    private var generated = ""
    private var latency = 0.0
    private var outputLen: Int
    private var mostRecent: Double

    init(start: Double, requestedOutputLen: Int) {
        self.start = start
        self.mostRecent = start
        self.outputLen = requestedOutputLen
    }

    mutating func consume(_ payload: SSELine.Payload, at time: Double) throws {
        latency = time - start
        guard case .json(let bytes) = payload else { return }
        let json = JSONSkimmer(bytes)
        let root = try json.validate()
        guard let choices = try json.member("choices", of: root), let first = try json.element(0, of: choices) else {
            throw BenchError("a /v1/completions chunk has no choices[0] (SGLang's bench_serving fails on it too)")
        }
        guard let textAt = try json.member("text", of: first) else {
            throw BenchError("a /v1/completions chunk has no choices[0].text")
        }
        guard json.isNonEmptyString(textAt), let text = try json.string(textAt) else { return }
        if ttft == 0.0 {
            ttft = time - start
        } else {
            textChunks.append(text)
            itl.append(time - mostRecent)
        }
        mostRecent = time
        generated += text
        if let usage = try json.member("usage", of: root), let tokensAt = try json.member("completion_tokens", of: usage) {
            outputLen = try json.int(tokensAt) ?? outputLen
        }
    }

    func finish(into output: inout RequestOutput) throws {
        output.generatedText = generated
        output.ttft = ttft
        output.itl = itl
        output.textChunks = textChunks
        output.latency = latency
        output.outputLen = outputLen
        output.success = true
    }
}

/// `POST /v1/chat/completions` streaming (SGLang's `async_request_openai_chat_completions`): one ITL per non-empty
/// `choices[0].delta.content`; `usage.completion_tokens` is read from every chunk.
struct ChatStreamMeasurement: StreamMeasurement {
    private let start: Double
    private var ttft = 0.0
    private var itl: [Double] = []
    private var textChunks: [String] = []
    private var generated = ""
    private var latency = 0.0
    private var outputLen: Int
    private var mostRecent: Double

    init(start: Double, requestedOutputLen: Int) {
        self.start = start
        self.mostRecent = start
        self.outputLen = requestedOutputLen
    }

    mutating func consume(_ payload: SSELine.Payload, at time: Double) throws {
        latency = time - start
        guard case .json(let bytes) = payload else { return }
        let json = JSONSkimmer(bytes)
        let root = try json.validate()
        // `data.get("choices", [{}])[0]`: a missing list reads as one empty choice, an empty list is an error.
        if let choices = try json.member("choices", of: root) {
            guard let first = try json.element(0, of: choices) else {
                throw BenchError("a /v1/chat/completions chunk has an empty choices list (SGLang's bench_serving fails on it too)")
            }
            if let delta = try json.member("delta", of: first), let contentAt = try json.member("content", of: delta),
                json.isNonEmptyString(contentAt), let content = try json.string(contentAt)
            {
                if ttft == 0.0 {
                    ttft = time - start
                } else {
                    textChunks.append(content)
                    itl.append(time - mostRecent)
                }
                mostRecent = time
                generated += content
            }
        }
        if let usage = try json.member("usage", of: root), let tokensAt = try json.member("completion_tokens", of: usage) {
            outputLen = try json.int(tokensAt) ?? outputLen
        }
    }

    func finish(into output: inout RequestOutput) throws {
        output.generatedText = generated
        output.ttft = ttft
        output.itl = itl
        output.textChunks = textChunks
        output.latency = latency
        output.outputLen = outputLen
        output.success = true
    }
}
