/// Sends one benchmark request and measures it (SGLang's `async_request_*` functions).
public struct RequestFunction: Sendable {
    public let client: BenchHTTPClient
    public let backend: BenchBackend
    /// `<base-url><backend path>`.
    public let apiURL: String
    public let stream: Bool
    public let ignoreEOS: Bool
    /// `--return-logprob` (native backend).
    public let returnLogprob: Bool

    public init(
        client: BenchHTTPClient, backend: BenchBackend, baseURL: String, stream: Bool, ignoreEOS: Bool,
        returnLogprob: Bool = false
    ) {
        self.client = client
        self.backend = backend
        self.apiURL = baseURL + backend.path
        self.stream = stream
        self.ignoreEOS = ignoreEOS
        self.returnLogprob = returnLogprob
    }

    public func callAsFunction(_ input: RequestInput) async -> RequestOutput {
        var output = RequestOutput()
        output.promptLen = input.promptLen
        let body = RequestPayload.body(
            for: input, api: backend.api, stream: stream, ignoreEOS: ignoreEOS, returnLogprob: returnLogprob)
        let start = BenchClock.now()
        output.startTime = start
        do {
            if backend.api == .chat && !stream {
                try await nonStreamingChat(body, input: input, start: start, output: &output)
                return output
            }
            switch backend.api {
            case .native:
                try await measure(NativeStreamMeasurement.self, body, input: input, start: start, output: &output)
            case .completions:
                try await measure(CompletionsStreamMeasurement.self, body, input: input, start: start, output: &output)
            case .chat:
                try await measure(ChatStreamMeasurement.self, body, input: input, start: start, output: &output)
            }
        } catch {
            output.success = false
            output.error = "\(error)"
        }
        return output
    }

    private func measure<M: StreamMeasurement>(
        _ kind: M.Type, _ body: JSONValue, input: RequestInput, start: Double, output: inout RequestOutput
    ) async throws {
        var measurement = M(start: start, requestedOutputLen: input.outputLen)
        let result = try await client.streamLines(apiURL, json: body) { line, time in
            if let payload = SSELine.payload(of: line) { try measurement.consume(payload, at: time) }
        }
        guard result.status == 200 else {
            output.error = "\(result.reason): \(result.errorBody)"
            return
        }
        try measurement.finish(into: &output)
    }

    /// `--disable-stream` with a chat backend: one JSON answer; TTFT is the whole latency.
    private func nonStreamingChat(_ body: JSONValue, input: RequestInput, start: Double, output: inout RequestOutput)
        async throws
    {
        let response = try await client.send(apiURL, method: .POST, json: body)
        guard response.status == 200 else {
            output.error = "\(response.reason): \(response.text)"
            return
        }
        guard let json = response.json else { throw BenchError("the chat completion response is not JSON") }
        guard let content = json["choices"]?[0]?["message"]?["content"]?.stringValue else {
            throw BenchError("the chat completion response has no choices[0].message.content string")
        }
        output.generatedText = content
        output.success = true
        output.latency = BenchClock.now() - start
        output.ttft = output.latency
        output.outputLen = json["usage"]?["completion_tokens"]?.intValue ?? input.outputLen
    }
}
