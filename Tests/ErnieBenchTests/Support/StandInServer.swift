import ErnieBench
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// How the stand-in server answers.
struct StandInBehavior: Sendable {
    /// Seconds from receiving a request to its first token.
    var ttft = 0.15
    /// Seconds between two chunks.
    var chunkGap = 0.04
    /// Tokens per native `/generate` chunk (as with speculative decoding).
    var tokensPerChunk = 1
    /// Generate at most this many tokens (the OpenAI routes then report the real count in `usage`).
    var cap: Int?
    /// `avg_spec_accept_length` in `/get_server_info`.
    var acceptLength: Double?
    /// GSM8K: question → completion text.
    var gsm8kAnswers: [String: String] = [:]
}

/// An in-process HTTP server (Hummingbird, 127.0.0.1, a free port) that imitates SGLang's API with known timing:
/// `/v1/models`, streaming `/generate` (cumulative text), `/v1/completions`, `/v1/chat/completions`, `/flush_cache`,
/// `/get_server_info`, and non-streaming `/generate` for GSM8K. Token k of a response is the letter `a + k % 26`, one
/// byte, so a byte tokenizer counts the generated text exactly. Chunks are sent at absolute deadlines
/// (`ttft + j * chunkGap` after the request arrived, on `BenchClock`, the clock the benchmark measures with), so sleep
/// overshoot does not accumulate.
final class StandInServer: Sendable {
    let port: Int
    let behavior: StandInBehavior
    private let task: Task<Void, any Error>
    private let recorded: Mutex<[(path: String, body: JSONValue)]>
    /// What the server did for one streaming request, on `BenchClock`: when it arrived, when each content chunk had
    /// been written (with its token count), when `[DONE]` had been written.
    struct Timeline: Sendable {
        var arrival: Double
        var chunks: [(time: Double, tokens: Int)] = []
        var done: Double?
    }

    /// Timelines by prompt (the last request with that prompt).
    private let timelines = Mutex<[String: Timeline]>([:])

    /// The timeline of the request with this prompt.
    func timeline(of prompt: Prompt) -> Timeline? {
        let key: String
        switch prompt {
        case .text(let text): key = text
        case .ids(let ids): key = JSONValue.array(ids.map { .int($0) }).serialized()
        }
        return timelines.withLock { $0[key] }
    }

    fileprivate func record(_ key: String, _ update: (inout Timeline) -> Void) {
        timelines.withLock { all in
            var timeline = all[key] ?? Timeline(arrival: 0)
            update(&timeline)
            all[key] = timeline
        }
    }

    static func promptKey(_ body: JSONValue) -> String {
        if let ids = body["input_ids"] { return ids.serialized() }
        return (body["text"] ?? body["prompt"] ?? body["messages"]?[0]?["content"])?.stringValue ?? ""
    }
    private let flushes = Mutex(0)

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The JSON bodies received, per path, in arrival order.
    func requests(_ path: String) -> [JSONValue] { recorded.withLock { $0.filter { $0.path == path }.map(\.body) } }
    var flushCount: Int { flushes.withLock { $0 } }

    private init(behavior: StandInBehavior, port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.behavior = behavior
        self.task = task
        self.recorded = Mutex([])
    }

    static func start(_ behavior: StandInBehavior) async throws -> StandInServer {
        let box = ServerBox()
        let router = Router()
        router.get("/v1/models") { _, _ in
            Self.json(#"{"object": "list", "data": [{"id": "stand-in-model", "object": "model"}]}"#)
        }
        router.post("/flush_cache") { _, _ in
            box.server?.flushes.withLock { $0 += 1 }
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "Cache flushed.")))
        }
        router.get("/get_server_info") { _, _ in
            let accept = behavior.acceptLength.map { "\($0)" } ?? "null"
            return Self.json(#"{"model_path": "stand-in", "internal_states": [{"avg_spec_accept_length": \#(accept)}]}"#)
        }
        for path in ["/generate", "/v1/completions", "/v1/chat/completions"] {
            router.post(RouterPath(path)) { request, _ in
                var buffer = try await request.body.collect(upTo: 16 << 20)
                let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
                let body = try JSONParser.parse(bytes)
                box.server?.recorded.withLock { $0.append((path, body)) }
                let arrival = BenchClock.now()
                let key = Self.promptKey(body)
                box.server?.record(key) { $0 = Timeline(arrival: arrival) }
                return Self.respond(path: path, body: body, arrival: arrival, behavior: behavior) { update in
                    box.server?.record(key, update)
                }
            }
        }
        let portBox = PortBox()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portBox.set(channel.localAddress?.port ?? 0) },
            logger: Self.quietLogger
        )
        let task = Task { try await app.run() }
        let port = try await portBox.wait()
        let server = StandInServer(behavior: behavior, port: port, task: task)
        box.server = server
        return server
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// Cancelling the server at the end of a test makes Hummingbird log the cancellation as an error; keep it quiet.
    static var quietLogger: Logger {
        var logger = Logger(label: "stand-in")
        logger.logLevel = .critical
        return logger
    }

    static func json(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func token(_ k: Int) -> String { String(UnicodeScalar(UInt8(97 + k % 26))) }

    static func respond(
        path: String, body: JSONValue, arrival: Double, behavior: StandInBehavior,
        record: @escaping @Sendable ((inout Timeline) -> Void) -> Void
    ) -> Response {
        let stream = body["stream"] == .bool(true)
        let requested: Int
        switch path {
        case "/generate": requested = body["sampling_params"]?["max_new_tokens"]?.intValue ?? 16
        case "/v1/completions": requested = body["max_tokens"]?.intValue ?? 16
        default: requested = body["max_completion_tokens"]?.intValue ?? body["max_tokens"]?.intValue ?? 16
        }
        let n = min(requested, behavior.cap ?? Int.max)
        if !stream && path != "/v1/chat/completions" {
            return gsm8k(path: path, body: body, behavior: behavior)
        }
        let chunks = path == "/generate" ? (n + behavior.tokensPerChunk - 1) / behavior.tokensPerChunk : n
        let ttft = behavior.ttft, gap = behavior.chunkGap, perChunk = behavior.tokensPerChunk
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream"],
            body: ResponseBody { writer in
                if path == "/v1/chat/completions" {
                    // A role-only first chunk with empty content: it must not count as the first token.
                    try await writer.write(
                        ByteBuffer(
                            string: #"data: {"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant", "#
                                + #""content": ""}, "finish_reason": null}], "usage": null}"# + "\n\n"))
                }
                var text = ""
                var emitted = 0
                for j in 0..<chunks {
                    let wait = arrival + ttft + Double(j) * gap - BenchClock.now()
                    if wait > 0 { try await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
                    let count = path == "/generate" ? min(perChunk, n - emitted) : 1
                    let piece = (emitted..<(emitted + count)).map(token).joined()
                    emitted += count
                    text += piece
                    let last = j == chunks - 1
                    let line: String
                    switch path {
                    case "/generate":
                        line = #"{"text": "\#(text)", "meta_info": {"id": "r", "prompt_tokens": 5, "#
                            + #""completion_tokens": \#(emitted), "finish_reason": null}, "index": 0}"#
                    case "/v1/completions":
                        let usage =
                            last ? #"{"prompt_tokens": 5, "completion_tokens": \#(emitted), "total_tokens": 99}"# : "null"
                        line = #"{"id": "c", "object": "text_completion", "choices": [{"index": 0, "text": "\#(piece)", "#
                            + #""logprobs": null, "finish_reason": \#(last ? "\"length\"" : "null")}], "usage": \#(usage)}"#
                    default:
                        line = #"{"id": "c", "choices": [{"index": 0, "delta": {"content": "\#(piece)"}, "#
                            + #""finish_reason": null}], "usage": null}"#
                    }
                    try await writer.write(ByteBuffer(string: "data: " + line + "\n\n"))
                    let written = BenchClock.now()
                    record { $0.chunks.append((written, count)) }
                }
                if path == "/v1/chat/completions" {
                    try await writer.write(
                        ByteBuffer(
                            string: #"data: {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}], "#
                                + #""usage": {"prompt_tokens": 5, "completion_tokens": \#(emitted), "total_tokens": 99}}"#
                                + "\n\n"))
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                let done = BenchClock.now()
                record { $0.done = done }
                try await writer.finish(nil)
            })
    }

    /// Non-streaming `/generate` or `/v1/completions`: the canned GSM8K answer to the last question of the prompt.
    static func gsm8k(path: String, body: JSONValue, behavior: StandInBehavior) -> Response {
        let native = path == "/generate"
        let maxNew = (native ? body["sampling_params"]?["max_new_tokens"] : body["max_tokens"])?.intValue ?? 0
        let prompt = (native ? body["text"] : body["prompt"])?.stringValue ?? ""
        guard maxNew > 0 else {
            return json(#"{"text": "", "meta_info": {"prompt_tokens": 1, "completion_tokens": 0}}"#)
        }
        var question = ""
        if let range = prompt.range(of: "Question: ", options: .backwards) {
            question = String(prompt[range.upperBound...])
            if question.hasSuffix("\nAnswer:") { question.removeLast("\nAnswer:".count) }
        }
        let answer = behavior.gsm8kAnswers[question] ?? "I cannot tell."
        let encoded = JSONValue.string(answer).serialized()
        let tokens = answer.utf8.count
        if native {
            return json(#"{"text": \#(encoded), "meta_info": {"prompt_tokens": 1, "completion_tokens": \#(tokens)}}"#)
        }
        return json(
            #"{"id": "c", "choices": [{"index": 0, "text": \#(encoded), "finish_reason": "stop"}], "#
                + #""usage": {"prompt_tokens": 1, "completion_tokens": \#(tokens), "total_tokens": 2}}"#)
    }
}

/// The server object, set once it exists (routes are built before it).
private final class ServerBox: Sendable {
    private let value = Mutex<StandInServer?>(nil)
    var server: StandInServer? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// The port the server bound, handed from `onServerRunning` to `start`.
private final class PortBox: Sendable {
    private let state = Mutex<(port: Int?, waiter: CheckedContinuation<Int, any Error>?)>((nil, nil))

    func set(_ port: Int) {
        let waiter: CheckedContinuation<Int, any Error>? = state.withLock { s in
            s.port = port
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: port)
    }

    func wait() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Int? = state.withLock { s in
                if let port = s.port { return port }
                s.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
