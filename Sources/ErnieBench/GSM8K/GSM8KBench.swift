import AsyncHTTPClient
import Foundation
import NIOCore

/// The settings of `bench-gsm8k`; defaults are those of SGLang's `benchmark/gsm8k/bench_sglang.py`.
public struct GSM8KOptions: Sendable {
    public var numShots = 5
    public var dataPath = "test.jsonl"
    public var numQuestions = 200
    public var parallel = 64
    public var host = "http://127.0.0.1"
    public var port = 30000
    /// `srt` (SGLang's default name; also `sglang`, `sglang-native`) sends native `/generate`; `sglang-oai` sends
    /// OpenAI `/v1/completions`.
    public var backend = "srt"
    public var resultFile = "result.jsonl"
    /// Model name for `/v1/completions`; default `GET /v1/models` → `data[0].id`.
    public var model: String?
    public var disableTqdm = false
    public var maxNewTokens = 512
    /// Where the test split is downloaded from when `dataPath` is not a file, and where the download is cached
    /// (SGLang's `download_and_cache_file` keeps it in `/tmp/<file name>`).
    public var downloadURL = GSM8KData.url
    public var downloadCache = "/tmp/test.jsonl"
    public static let stop = ["Question", "Assistant:", "<|separator|>"]

    public init() {}

    /// `{host}:{port}`, with `http://` added when the host has no scheme.
    public var baseURL: String {
        let h = host.contains("://") ? host : "http://" + host
        return "\(h):\(port)"
    }

    public var usesOpenAI: Bool { backend == "sglang-oai" }

    func validate() throws {
        let native = ["srt", "sglang", "sglang-native"]
        guard native.contains(backend) || usesOpenAI else {
            throw BenchError("--backend must be one of \((native + ["sglang-oai"]).joined(separator: ", "))")
        }
        if numShots < 0 { throw BenchError("--num-shots must not be negative") }
        if numQuestions < 1 { throw BenchError("--num-questions must be at least 1") }
        if parallel < 1 { throw BenchError("--parallel must be at least 1") }
    }
}

/// The outcome of a GSM8K run.
public struct GSM8KResult: Sendable {
    public var predictions: [GSM8KAnswer]
    public var labels: [GSM8KAnswer]
    public var outputs: [String]
    public var score: GSM8KScore
    public var latency: Double
    public var outputTokens: Int
    public var outputThroughput: Double
    /// The four printed lines.
    public var summary: String
    public var record: JSONValue
}

/// `ernie bench-gsm8k`: few-shot GSM8K against a running server, scored as SGLang scores it.
public struct GSM8KBench: Sendable {
    public var options: GSM8KOptions
    public var log: @Sendable (String) -> Void

    public init(options: GSM8KOptions, log: @escaping @Sendable (String) -> Void = { print($0) }) {
        self.options = options
        self.log = log
    }

    public func run() async throws -> GSM8KResult {
        try options.validate()
        let client = BenchHTTPClient(connections: options.parallel)
        do {
            let result = try await run(client: client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// `--data-path` if it is a file, else SGLang's cache `/tmp/test.jsonl`, else a download from `GSM8KData.url`.
    func loadProblems(client: BenchHTTPClient) async throws -> [GSM8KProblem] {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: options.dataPath, isDirectory: &isDirectory), !isDirectory.boolValue {
            return try GSM8KData.load(path: options.dataPath)
        }
        let cache = options.downloadCache
        let url = options.downloadURL
        if FileManager.default.fileExists(atPath: cache) { return try GSM8KData.load(path: cache) }
        log("Downloading from \(url) to \(cache)")
        let response: BenchHTTPClient.Response
        do {
            response = try await client.send(url)
        } catch {
            throw BenchError(
                "\(options.dataPath) is not a file and downloading \(url) failed (\(error)); pass "
                    + "--data-path with a local copy of GSM8K's test.jsonl")
        }
        guard response.status == 200 else {
            throw BenchError(
                "\(options.dataPath) is not a file and downloading \(url) answered HTTP \(response.status); "
                    + "pass --data-path with a local copy of GSM8K's test.jsonl")
        }
        let problems = try GSM8KData.parse(response.text, source: url)
        try? Data(response.body).write(to: URL(fileURLWithPath: cache))
        return problems
    }

    private func run(client: BenchHTTPClient) async throws -> GSM8KResult {
        let problems = try await loadProblems(client: client)
        let (fewShot, prompts, labels) = try GSM8KData.prompts(
            problems, shots: options.numShots, questions: options.numQuestions)
        let base = options.baseURL
        var model = options.model ?? ""
        if options.usesOpenAI && model.isEmpty {
            let response = try await client.send(base + "/v1/models")
            guard let id = response.json?["data"]?[0]?["id"]?.stringValue else {
                throw BenchError("no model found at \(base)/v1/models; pass --model")
            }
            model = id
        }

        let modelName = model
        let start = BenchClock.now()
        if !options.usesOpenAI && prompts.count > 1 && !fewShot.isEmpty {
            // The SGLang frontend first prefills the shared prefix of a batch (`cache_prefix`, max_new_tokens 0).
            let body: JSONValue = .object([
                ("text", .string(fewShot)), ("sampling_params", .object([("max_new_tokens", .int(0))])),
            ])
            let response = try? await client.send(base + "/generate", method: .POST, json: body)
            if response?.status != 200 {
                FileHandle.standardError.write(Data("warning: prefilling the few-shot prefix failed; going on\n".utf8))
            }
        }
        let progress = ProgressBar(total: prompts.count, enabled: !options.disableTqdm)
        let semaphore = AsyncSemaphore(limit: options.parallel)
        let answers = try await withThrowingTaskGroup(of: (Int, String, Int).self) { group in
            for (index, prompt) in prompts.enumerated() {
                group.addTask {
                    await semaphore.acquire()
                    do {
                        let (text, tokens) = try await generate(prompt, model: modelName, client: client, base: base)
                        await semaphore.release()
                        progress.increment()
                        return (index, text, tokens)
                    } catch {
                        await semaphore.release()
                        throw error
                    }
                }
            }
            var collected = [(String, Int)](repeating: ("", 0), count: prompts.count)
            for try await (index, text, tokens) in group { collected[index] = (text, tokens) }
            return collected
        }
        progress.close()
        let latency = BenchClock.now() - start

        let predictions = answers.map { GSM8KAnswer.extract($0.0) }
        let score = GSM8KScore(predictions: predictions, labels: labels)
        let outputTokens = answers.reduce(0) { $0 + $1.1 }
        let throughput = Double(outputTokens) / latency
        let summary = [
            "Accuracy: " + String(format: "%.3f", score.accuracy),
            "Invalid: " + String(format: "%.3f", score.invalid),
            "Latency: " + String(format: "%.3f", latency) + " s",
            "Output throughput: " + String(format: "%.3f", throughput) + " token/s",
        ].joined(separator: "\n")
        log(summary)
        func round3(_ x: Double) -> Double { (x * 1000).rounded(.toNearestOrEven) / 1000 }
        let record: JSONValue = .object([
            ("task", .string("gsm8k")),
            ("backend", .string(options.backend)),
            ("num_gpus", .int(1)),
            ("latency", .double(round3(latency))),
            ("accuracy", .double(round3(score.accuracy))),
            ("num_requests", .int(options.numQuestions)),
            ("other", .object([("num_questions", .int(options.numQuestions)), ("parallel", .int(options.parallel))])),
        ])
        try ResultFile.appendLine(record.serialized(), to: options.resultFile)
        return GSM8KResult(
            predictions: predictions, labels: labels, outputs: answers.map(\.0), score: score, latency: latency,
            outputTokens: outputTokens, outputThroughput: throughput, summary: summary, record: record)
    }

    /// One completion: native `/generate` (non-streaming, the frontend's sampling keys) or `/v1/completions`.
    func generate(_ prompt: String, model: String, client: BenchHTTPClient, base: String) async throws
        -> (String, Int)
    {
        let stop: JSONValue = .array(GSM8KOptions.stop.map { .string($0) })
        if options.usesOpenAI {
            let body: JSONValue = .object([
                ("model", .string(model)), ("prompt", .string(prompt)), ("max_tokens", .int(options.maxNewTokens)),
                ("stop", stop), ("temperature", .double(0)),
            ])
            let response = try await client.send(base + "/v1/completions", method: .POST, json: body)
            guard response.status == 200, let json = response.json else {
                throw BenchError("/v1/completions answered HTTP \(response.status): \(response.text.prefix(500))")
            }
            guard let text = json["choices"]?[0]?["text"]?.stringValue else {
                throw BenchError("/v1/completions response has no choices[0].text")
            }
            return (text, json["usage"]?["completion_tokens"]?.intValue ?? 0)
        }
        let body: JSONValue = .object([
            ("text", .string(prompt)),
            (
                "sampling_params",
                .object([
                    ("skip_special_tokens", .bool(true)),
                    ("spaces_between_special_tokens", .bool(true)),
                    ("max_new_tokens", .int(options.maxNewTokens)),
                    ("stop", stop),
                    ("temperature", .double(0)),
                    ("top_p", .double(1.0)),
                    ("top_k", .int(-1)),
                    ("min_p", .double(0.0)),
                    ("frequency_penalty", .double(0.0)),
                    ("presence_penalty", .double(0.0)),
                    ("ignore_eos", .bool(false)),
                ])
            ),
        ])
        let response = try await client.send(base + "/generate", method: .POST, json: body)
        guard response.status == 200, let json = response.json else {
            throw BenchError("/generate answered HTTP \(response.status): \(response.text.prefix(500))")
        }
        guard let text = json["text"]?.stringValue else { throw BenchError("/generate response has no 'text'") }
        guard let tokens = json["meta_info"]?["completion_tokens"]?.intValue else {
            throw BenchError("/generate response has no meta_info.completion_tokens")
        }
        return (text, tokens)
    }
}
