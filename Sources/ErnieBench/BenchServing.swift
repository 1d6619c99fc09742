import Foundation

/// One finished `bench-serving` run.
public struct BenchServingResult: Sendable {
    public var rows: [DatasetRow]
    public var outputs: [RequestOutput]
    public var metrics: BenchmarkMetrics
    public var duration: Double
    public var acceptLength: Double?
    /// The printed report (SGLang's layout).
    public var report: String
    /// The JSON line written to the output file.
    public var record: JSONValue
}

/// `ernie bench-serving`: SGLang's `bench_serving.py` flow — resolve the model, build the dataset, warm up, optionally
/// flush the cache, send the requests (Poisson arrivals, bounded concurrency), then measure, print and record.
public struct BenchServing: Sendable {
    public var options: BenchServingOptions
    public var tokenizer: any BenchTokenizer
    /// Where the informational lines and the report go (stdout in the CLI).
    public var log: @Sendable (String) -> Void

    public init(
        options: BenchServingOptions, tokenizer: any BenchTokenizer,
        log: @escaping @Sendable (String) -> Void = { print($0) }
    ) {
        self.options = options
        self.tokenizer = tokenizer
        self.log = log
    }

    /// Builds the request set of `options` (needs the ShareGPT file for `sharegpt` and `random`), drawing from `rng`
    /// as SGLang does from its seeded streams.
    public func makeDataset(rng: inout SGLangRandom) throws -> [DatasetRow] {
        let rows: [DatasetRow]
        switch options.datasetName {
        case .sharegpt, .random:
            let path = try ShareGPTLocator.locate(datasetPath: options.datasetPath)
            let file = try ShareGPTFile(path: path)
            if file.droppedTail {
                FileHandle.standardError.write(
                    Data(
                        ("warning: \(path) ends inside its JSON array (cut short or malformed); using its first "
                            + "\(file.count) complete conversations\n").utf8))
            }
            if options.datasetName == .sharegpt {
                rows = try Datasets.shareGPT(
                    numPrompts: options.numPrompts, tokenizer: tokenizer, file: file,
                    fixedOutputLen: options.sharegptOutputLen, contextLen: options.sharegptContextLen,
                    promptSuffix: options.promptSuffix, rng: &rng)
                log("#Input tokens: \(rows.reduce(0) { $0 + $1.promptLen })")
                log("#Output tokens: \(rows.reduce(0) { $0 + $1.outputLen })")
            } else {
                rows = try Datasets.random(
                    inputLen: options.randomInputLen, outputLen: options.randomOutputLen,
                    numPrompts: options.numPrompts, rangeRatio: options.randomRangeRatio, tokenizer: tokenizer,
                    file: file, returnText: !options.tokenizePrompt, rng: &rng)
                logRandomTotals(rows)
            }
        case .randomIDs:
            rows = try Datasets.randomIDs(
                inputLen: options.randomInputLen, outputLen: options.randomOutputLen, numPrompts: options.numPrompts,
                rangeRatio: options.randomRangeRatio, tokenizer: tokenizer, returnText: !options.tokenizePrompt,
                rng: &rng)
            logRandomTotals(rows)
        case .generatedSharedPrefix:
            rows = try Datasets.generatedSharedPrefix(options.sharedPrefix, tokenizer: tokenizer, rng: &rng)
            log("Total prompts: \(rows.count)")
            log("Total input tokens: \(rows.reduce(0) { $0 + $1.promptLen })")
            log("Total output tokens: \(rows.reduce(0) { $0 + $1.outputLen })")
        }
        guard !rows.isEmpty else { throw BenchError("the dataset produced no requests") }
        return rows
    }

    private func logRandomTotals(_ rows: [DatasetRow]) {
        log("#Input tokens: \(rows.reduce(0) { $0 + $1.promptLen })")
        log("#Output tokens: \(rows.reduce(0) { $0 + $1.outputLen })")
    }

    /// Runs the whole benchmark: model name, dataset, warm-up, timed run, report, output file, plot.
    public func run() async throws -> BenchServingResult {
        let extraBody = try options.validatedExtraBody()
        let baseURL = options.resolvedBaseURL
        let client = BenchHTTPClient(connections: options.maxConcurrency ?? options.numPrompts)
        do {
            let result = try await run(client: client, baseURL: baseURL, extraBody: extraBody)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func run(client: BenchHTTPClient, baseURL: String, extraBody: [(String, JSONValue)]) async throws
        -> BenchServingResult
    {
        let model = try await resolveModel(client: client, baseURL: baseURL)
        let modelID = options.servedModelName ?? model
        var rng = SGLangRandom(seed: options.seed)
        let rows = try makeDataset(rng: &rng)
        let request = RequestFunction(
            client: client, backend: options.backend, baseURL: baseURL, stream: !options.disableStream,
            ignoreEOS: !options.disableIgnoreEOS, returnLogprob: options.returnLogprob)
        func input(_ row: DatasetRow, outputLen: Int? = nil) -> RequestInput {
            RequestInput(
                prompt: row.prompt, promptLen: row.promptLen, outputLen: outputLen ?? row.outputLen, model: modelID,
                extraBody: extraBody)
        }

        log("Starting warmup with \(options.warmupRequests) sequences...")
        let warmupInput = input(rows[0], outputLen: min(rows[0].outputLen, 32))
        let warmups = await withTaskGroup(of: RequestOutput.self) { group in
            for _ in 0..<options.warmupRequests { group.addTask { await request(warmupInput) } }
            return await group.reduce(into: [RequestOutput]()) { $0.append($1) }
        }
        if options.warmupRequests > 0 && !warmups.contains(where: \.success) {
            throw BenchError(
                "Warmup failed - Please make sure benchmark arguments are correctly specified. Error: "
                    + (warmups.first?.error ?? ""))
        }
        log("Warmup completed with \(options.warmupRequests) sequences. Starting main benchmark run...")

        let inCI = ["true", "1"].contains((ProcessInfo.processInfo.environment["SGLANG_IS_IN_CI"] ?? "").lowercased())
        if (options.backend.isSGLang && inCI) || options.flushCache {
            _ = try? await client.send(baseURL + "/flush_cache", method: .POST)
        }
        try await Task.sleep(nanoseconds: UInt64(max(0, options.settleSeconds) * 1e9))

        let start = BenchClock.now()
        let outputs = await sendAll(rows.map { input($0) }, request: request, rng: rng)
        var acceptLength: Double?
        if options.backend.isSGLang {
            acceptLength = await Self.acceptLength(client: client, baseURL: baseURL)
        }
        let duration = BenchClock.now() - start

        let (metrics, outputLens) = BenchmarkMetrics.calculate(
            rows: rows, outputs: outputs, duration: duration, tokenizer: tokenizer, backend: options.backend,
            acceptLength: acceptLength)
        let report = Report.render(
            backend: options.backend, requestRate: options.requestRate, maxConcurrency: options.maxConcurrency,
            duration: duration, metrics: metrics, acceptLength: acceptLength)
        log(String(report.dropLast()))

        let serverInfoResponse = try? await client.send(baseURL + "/get_server_info")
        let serverInfo = serverInfoResponse.flatMap { $0.status == 200 ? $0.json : nil }
        let record = ResultRecord.make(
            options: options, serverInfo: serverInfo, duration: duration, metrics: metrics,
            acceptLength: acceptLength, outputs: outputs, outputLens: outputLens)
        try ResultFile.appendLine(record.serialized(), to: outputFileName())
        if let plotPath = options.plotPath {
            let svg = Plot.svg(metrics: metrics, title: "\(options.backend.rawValue) · \(options.datasetName.rawValue)")
            do {
                try svg.write(toFile: plotPath, atomically: true, encoding: .utf8)
            } catch {
                throw BenchError("cannot write the plot to \(plotPath): \(error.localizedDescription)")
            }
        }
        return BenchServingResult(
            rows: rows, outputs: outputs, metrics: metrics, duration: duration, acceptLength: acceptLength,
            report: report, record: record)
    }

    /// `--model`, else `GET /v1/models` → `data[0].id`.
    private func resolveModel(client: BenchHTTPClient, baseURL: String) async throws -> String {
        if let model = options.model, !model.isEmpty { return model }
        let url = baseURL + "/v1/models"
        let response: BenchHTTPClient.Response
        do {
            response = try await client.send(url)
        } catch {
            throw BenchError(
                "Failed to fetch model from \(url). Error: \(error). Please specify the correct host and port using "
                    + "`--host` and `--port`.")
        }
        guard let id = response.json?["data"]?[0]?["id"]?.stringValue else {
            throw BenchError("No model specified or found at \(url). Please provide a model using `--model`.")
        }
        return id
    }

    /// `internal_states[0].avg_spec_accept_length` from `/get_server_info` (the decode side's in PD mode).
    static func acceptLength(client: BenchHTTPClient, baseURL: String) async -> Double? {
        guard let response = try? await client.send(baseURL + "/get_server_info"), response.status == 200,
            var info = response.json
        else { return nil }
        if let decode = info["decode"]?[0] { info = decode }
        guard let states = info["internal_states"], states.isTruthy else { return nil }
        return states[0]?["avg_spec_accept_length"]?.doubleValue
    }

    /// The timed phase: arrivals at `--request-rate` (Poisson: exponential gaps from the NumPy stream after the
    /// dataset's draws, as in SGLang; inf = all at once), at most `--max-concurrency` in flight; outputs in request
    /// order.
    func sendAll(_ inputs: [RequestInput], request: RequestFunction, rng: SGLangRandom) async -> [RequestOutput] {
        let progress = ProgressBar(total: inputs.count, enabled: !options.disableTqdm)
        let semaphore = options.maxConcurrency.map { AsyncSemaphore(limit: $0) }
        var arrivals = rng
        let rate = options.requestRate
        let outputs = await withTaskGroup(of: (Int, RequestOutput).self) { group in
            for (index, input) in inputs.enumerated() {
                group.addTask {
                    if let semaphore { await semaphore.acquire() }
                    let output = await request(input)
                    if let semaphore { await semaphore.release() }
                    progress.increment()
                    return (index, output)
                }
                if rate.isFinite {
                    let gap = arrivals.numpyExponential(scale: 1.0 / rate)
                    try? await Task.sleep(nanoseconds: UInt64(max(0, min(gap, 1e6)) * 1e9))
                }
            }
            var collected = [RequestOutput](repeating: RequestOutput(), count: inputs.count)
            for await (index, output) in group { collected[index] = output }
            return collected
        }
        progress.close()
        return outputs
    }

    func outputFileName() -> String {
        if let file = options.outputFile, !file.isEmpty { return file }
        let formatter = DateFormatter()
        formatter.dateFormat = "MMdd"
        return options.defaultOutputFile(monthDay: formatter.string(from: Date()))
    }
}
