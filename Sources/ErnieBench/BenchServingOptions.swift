/// `--dataset-name` of `bench-serving`.
public enum DatasetName: String, Sendable, CaseIterable {
    case sharegpt
    case random
    case randomIDs = "random-ids"
    case generatedSharedPrefix = "generated-shared-prefix"
}

/// The settings of one `bench-serving` run; the defaults are `sglang.bench_serving`'s.
public struct BenchServingOptions: Sendable {
    public var backend: BenchBackend = .sglang
    public var baseURL: String?
    public var host = "0.0.0.0"
    public var port: Int?
    public var model: String?
    public var servedModelName: String?
    public var datasetName: DatasetName = .sharegpt
    public var datasetPath = ""
    public var numPrompts = 1000
    public var sharegptOutputLen: Int?
    public var sharegptContextLen: Int?
    public var randomInputLen = 1024
    public var randomOutputLen = 1024
    public var randomRangeRatio = 0.0
    public var sharedPrefix = Datasets.SharedPrefixOptions()
    public var promptSuffix = ""
    public var requestRate = Double.infinity
    public var maxConcurrency: Int?
    public var outputFile: String?
    public var outputDetails = false
    public var disableTqdm = false
    public var disableStream = false
    public var seed = 1
    public var disableIgnoreEOS = false
    /// `--return-logprob`: ask `/generate` for logprobs (native backend).
    public var returnLogprob = false
    /// `--extra-request-body`: a JSON object merged into every payload.
    public var extraRequestBody: String?
    public var flushCache = false
    public var warmupRequests = 1
    public var tokenizePrompt = false
    public var tag: String?
    /// `--plot FILE.svg`.
    public var plotPath: String?
    /// The pause between the warm-up (and cache flush) and the timed run; SGLang sleeps 1 s.
    public var settleSeconds = 1.0

    public init() {}

    /// `--base-url`, else `http://{host}:{port}` with the backend's default port.
    public var resolvedBaseURL: String {
        if let baseURL, !baseURL.isEmpty {
            return baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        }
        return "http://\(host):\(port ?? backend.defaultPort)"
    }

    /// The default `--output-file`: `{backend}_{MMDD}_{num_prompts}_{in}_{out}.jsonl` for the random datasets,
    /// `{backend}_{MMDD}_{num_prompts}_{dataset}.jsonl` otherwise.
    public func defaultOutputFile(monthDay: String) -> String {
        switch datasetName {
        case .random, .randomIDs:
            return "\(backend.rawValue)_\(monthDay)_\(numPrompts)_\(randomInputLen)_\(randomOutputLen).jsonl"
        default:
            return "\(backend.rawValue)_\(monthDay)_\(numPrompts)_\(datasetName.rawValue).jsonl"
        }
    }

    /// Checks the combinations SGLang rejects and parses `--extra-request-body`.
    public func validatedExtraBody() throws -> [(String, JSONValue)] {
        if tokenizePrompt && backend != .sglang {
            throw BenchError("--tokenize-prompt only works with --backend sglang")
        }
        if tokenizePrompt && (datasetName == .sharegpt || datasetName == .generatedSharedPrefix) {
            throw BenchError("--tokenize-prompt only works with the random and random-ids datasets")
        }
        if numPrompts < 1 { throw BenchError("--num-prompts must be at least 1") }
        if let maxConcurrency, maxConcurrency < 1 { throw BenchError("--max-concurrency must be at least 1") }
        if !(requestRate > 0) { throw BenchError("--request-rate must be positive (inf sends everything at once)") }
        if randomInputLen < 1 || randomOutputLen < 1 {
            throw BenchError("--random-input-len and --random-output-len must be at least 1")
        }
        if warmupRequests < 0 { throw BenchError("--warmup-requests must not be negative") }
        if !randomRangeRatio.isFinite || !sharedPrefix.rangeRatio.isFinite {
            throw BenchError("--random-range-ratio and --gsp-range-ratio must be finite numbers")
        }
        if sharedPrefix.numGroups < 1 || sharedPrefix.promptsPerGroup < 1 {
            throw BenchError("--gsp-num-groups and --gsp-prompts-per-group must be at least 1")
        }
        if !settleSeconds.isFinite || settleSeconds < 0 || settleSeconds > 3600 {
            throw BenchError("the pause before the timed run must be between 0 and 3600 seconds")
        }
        if seed < 0 || seed > Int(UInt32.max) { throw BenchError("--seed must be between 0 and 2**32 - 1 (NumPy's rule)") }
        guard let text = extraRequestBody, !text.isEmpty else { return [] }
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch { throw BenchError("--extra-request-body: \(error)") }
        guard let members = value.objectValue else { throw BenchError("--extra-request-body must be a JSON object") }
        return members
    }
}
