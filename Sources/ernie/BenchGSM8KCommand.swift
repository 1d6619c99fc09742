import ArgumentParser
import ErnieBench

/// `ernie bench-gsm8k`: SGLang's `benchmark/gsm8k/bench_sglang.py`.
struct BenchGSM8KCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-gsm8k",
        abstract: "Few-shot GSM8K accuracy and speed against a running server, as SGLang's GSM8K benchmark.")

    @Option(name: .customLong("num-shots"), help: "Solved examples in the prompt.") var numShots: Int = 5
    @Option(name: .customLong("data-path"), help: "GSM8K test.jsonl (downloaded if not a file).")
    var dataPath: String = "test.jsonl"
    @Option(name: .customLong("num-questions"), help: "Questions evaluated (the first N).") var numQuestions: Int = 200
    @Option(help: "Requests in flight at once.") var parallel: Int = 64
    @Option(help: "Server host.") var host: String = "http://127.0.0.1"
    @Option(help: "Server port.") var port: Int = 30000
    @Option(help: "srt (native /generate, default) or sglang-oai (/v1/completions).") var backend: String = "srt"
    @Option(name: .customLong("result-file"), help: "JSONL file a result line is appended to.")
    var resultFile: String = "result.jsonl"
    @Option(help: "Model name for --backend sglang-oai (default: GET /v1/models).") var model: String?
    @Flag(name: .customLong("disable-tqdm"), help: "No progress bar.") var disableTqdm = false

    func run() async throws {
        var o = GSM8KOptions()
        o.numShots = numShots
        o.dataPath = dataPath
        o.numQuestions = numQuestions
        o.parallel = parallel
        o.host = host
        o.port = port
        o.backend = backend
        o.resultFile = resultFile
        o.model = model
        o.disableTqdm = disableTqdm
        _ = try await GSM8KBench(options: o).run()
    }
}
