import ArgumentParser
import ErnieModel
import ErnieRuntime
import ErnieServer
import ErnieTemplate
import ErnieTokenizer
import Foundation
import Logging

/// `ernie serve`: the OpenAI-compatible and SGLang-native HTTP server (SGLang's argument names).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over HTTP: OpenAI /v1 routes, SGLang's /generate, /metrics.",
        discussion: "Without --model-path the bundled demo model is served."
    )

    @Option(name: [.customLong("model-path"), .customLong("model")], help: "Model folder (config.json, safetensors).")
    var modelPath: String?

    @Option(help: "Tokenizer folder (default: the model folder).")
    var tokenizerPath: String?

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port; the bound one is printed).")
    var port = 30000

    @Option(help: "auto, cpu or cuda.")
    var device: DeviceChoice = .auto

    @Option(help: "The model name clients use (default: the model path, or 'ernie-demo').")
    var servedModelName: String?

    @Option(help: "Require 'Authorization: Bearer <key>' on every route but /health and /metrics.")
    var apiKey: String?

    @Option(help: "Longest prompt plus completion (default: max_position_embeddings).")
    var contextLength: Int?

    @Option(help: "Most requests decoding at once.")
    var maxRunningRequests = 256

    @Option(help: "Most requests waiting; beyond it requests get 503.")
    var maxQueuedRequests = 4096

    @Option(help: "Size of the KV pool in tokens (default: from --mem-fraction-static).")
    var maxTotalTokens: Int?

    @Option(help: "Fraction of device memory for the KV pool (CPU: of physical memory).")
    var memFractionStatic: Double?

    @Option(help: "Most prompt tokens prefilled in one step.")
    var chunkedPrefillSize = 2048

    @Option(help: "Tokens per KV page.")
    var pageSize = 16

    @Flag(help: "Turn the radix prefix cache off.")
    var disableRadixCache = false

    @Option(help: "auto, safetensors or dummy (random weights of the configured shapes).")
    var loadFormat: LoadFormatChoice = .auto

    @Option(help: "A Jinja chat template file that replaces the tokenizer's.")
    var chatTemplate: String?

    @Option(help: "Seed of requests that bring none.")
    var randomSeed: UInt64?

    @Flag(help: "Do not load a tokenizer: token ids in, token ids out.")
    var skipTokenizerInit = false

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(
        name: [.customLong("tp"), .customLong("tp-size")],
        help: "Tensor-parallel size: each replica split over this many GPUs (CPU: rank threads).")
    var tp = 1

    @Option(
        name: [.customLong("dp"), .customLong("dp-size")],
        help: "Data-parallel size: this many replicas, each with its own scheduler, behind one HTTP front.")
    var dp = 1

    @Option(
        name: [.customLong("ep-size"), .customLong("ep")],
        help: ArgumentHelp(
            "Expert-parallel size: routed experts partitioned over this many groups of a replica's --tp ranks "
                + "(1: every rank holds a slice of every expert)."))
    var epSize = 1

    @Option(help: "Parse tool calls of chat output into OpenAI tool_calls: ernie45.")
    var toolCallParser: String?

    @Option(help: "Split chat output into reasoning_content and content: ernie45.")
    var reasoningParser: String?

    mutating func validate() throws {
        for (name, value) in [("--tp", tp), ("--dp", dp), ("--ep-size", epSize)] where value < 1 {
            throw ValidationError("\(name) must be at least 1.")
        }
        if tp % epSize != 0 {
            throw ValidationError(
                "--ep-size \(epSize) must divide --tp \(tp) (experts are partitioned over groups of ranks).")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535.") }
        let parsers = OutputParser.allCases.map(\.rawValue).joined(separator: ", ")
        for (name, value) in [("--tool-call-parser", toolCallParser), ("--reasoning-parser", reasoningParser)] {
            if let value, OutputParser(rawValue: value) == nil {
                throw ValidationError("\(name) '\(value)' is not known; available: \(parsers).")
            }
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical.")
        }
        for (name, value) in [
            ("--max-running-requests", maxRunningRequests), ("--max-queued-requests", maxQueuedRequests),
            ("--chunked-prefill-size", chunkedPrefillSize), ("--page-size", pageSize),
        ] where value < 1 {
            throw ValidationError("\(name) must be at least 1.")
        }
        if let contextLength, contextLength < 1 { throw ValidationError("--context-length must be at least 1.") }
        if let maxTotalTokens, maxTotalTokens < 1 { throw ValidationError("--max-total-tokens must be at least 1.") }
        if let memFractionStatic, !(memFractionStatic > 0 && memFractionStatic < 1) {
            throw ValidationError("--mem-fraction-static must be between 0 and 1.")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ernie.serve")

        let resolvedModelPath = try resolveModelPath()
        let config = try ModelConfig(contentsOf: resolvedModelPath)
        let contextLength = self.contextLength ?? config.maxPositionEmbeddings
        let tokenizerFolder = tokenizerPath ?? resolvedModelPath
        let tokenizer = skipTokenizerInit ? nil : try Tokenizer.load(directory: tokenizerFolder)
        let template = try loadChatTemplate(tokenizer: tokenizer, logger: logger)
        let defaults = try SamplingDefaults.load(directory: resolvedModelPath)

        let factoryOptions = ModelFactory.Options(
            modelPath: resolvedModelPath, device: device, loadFormat: loadFormat.format, pageSize: pageSize,
            maxTotalTokens: maxTotalTokens, memFractionStatic: memFractionStatic,
            seed: randomSeed ?? 0, maxTokensPerStep: chunkedPrefillSize + maxRunningRequests, tpSize: tp,
            epSize: epSize, dpSize: dp)
        try ModelFactory.checkParallelism(factoryOptions, config: config, device: ModelFactory.resolve(device))
        let engineConfiguration = EngineConfiguration(
            maxRunningRequests: maxRunningRequests, maxQueuedRequests: maxQueuedRequests,
            chunkedPrefillSize: chunkedPrefillSize, contextLength: contextLength,
            enableRadixCache: !disableRadixCache, randomSeed: randomSeed ?? UInt64.random(in: 0...UInt64.max))
        var replicas: [Engine] = []
        var layout: KVCacheLayout?
        for replica in 0..<dp {
            let loaded = try ModelFactory.load(factoryOptions, replica: replica)
            let kvLayout = loaded.executor.kvLayout
            let prefix = dp > 1 ? "ernie serve: replica \(replica): " : "ernie serve: "
            announce(
                prefix + "\(config.architecture.rawValue) model \(resolvedModelPath) "
                    + "(\(config.numHiddenLayers) layers, vocab \(config.vocabSize)) on "
                    + loaded.executor.deviceDescription)
            announce(
                prefix + "KV cache reserved: \(kvLayout.capacityTokens) tokens (\(kvLayout.numPages) pages of "
                    + "\(kvLayout.pageSize)), \(loaded.kvBytes) bytes "
                    + "(\(String(format: "%.1f", Double(loaded.kvBytes) / 1_048_576)) MiB)")
            layout = layout ?? kvLayout
            if let tokenizer {
                replicas.append(
                    Engine(executor: loaded.executor, tokenizer: tokenizer, configuration: engineConfiguration))
            } else {
                replicas.append(
                    Engine(
                        executor: loaded.executor, textDecoders: { _ in NoTextDecoder() },
                        eosTokenIDs: Set(config.eosTokenIDs), vocabLimit: config.vocabSize,
                        configuration: engineConfiguration))
            }
        }
        guard let layout, let first = replicas.first else { throw ValidationError("--dp must be at least 1.") }
        let engine: any ServingEngine = dp > 1 ? try DataParallelEngine(replicas: replicas) : first

        let name = servedModelName ?? (modelPath == nil ? DemoModel.folderName : resolvedModelPath)
        let model = ServedModel(
            name: name, modelPath: resolvedModelPath, tokenizerPath: tokenizerFolder, config: config,
            contextLength: contextLength, tokenizer: tokenizer, chatTemplate: template, samplingDefaults: defaults)
        let server = ServerContext(
            engine: engine, model: model,
            configuration: ServerConfiguration(
                host: host, port: port, apiKey: apiKey,
                serverArgs: serverArgs(
                    modelPath: resolvedModelPath, tokenizerPath: tokenizerFolder, name: name,
                    contextLength: contextLength, layout: layout),
                toolCallParser: toolCallParser.flatMap(OutputParser.init(rawValue:)),
                reasoningParser: reasoningParser.flatMap(OutputParser.init(rawValue:))),
            logger: logger)
        try await ServerRunner.run(server, engine: engine) { host, port in
            announce("ernie serve: listening on http://\(host):\(port)")
        }
        announce("ernie serve: stopped")
    }

    private func resolveModelPath() throws -> String {
        if let modelPath { return modelPath }
        guard let demo = DemoModel.path() else {
            throw ValidationError(
                "No --model-path given and the bundled demo model was not found (set ERNIE_DEMO_MODEL or install "
                    + "models/\(DemoModel.folderName)).")
        }
        return demo
    }

    /// `--chat-template FILE`, else the tokenizer's template. A template from the tokenizer that does not compile is
    /// reported and left out (completions still work); a `--chat-template` file that does not compile is an error.
    private func loadChatTemplate(tokenizer: Tokenizer?, logger: Logger) throws -> ChatTemplate? {
        if let chatTemplate {
            guard let data = FileManager.default.contents(atPath: chatTemplate),
                let source = String(data: data, encoding: .utf8)
            else { throw ValidationError("--chat-template: cannot read \(chatTemplate) as UTF-8 text.") }
            do {
                return try ChatTemplate(source: source)
            } catch {
                throw ValidationError("--chat-template \(chatTemplate): \(error)")
            }
        }
        guard let source = tokenizer?.chatTemplate else { return nil }
        do {
            return try ChatTemplate(source: source)
        } catch {
            logger.warning(
                "The tokenizer's chat template does not compile; /v1/chat/completions is unavailable: \(error)")
            return nil
        }
    }

    /// The arguments as `/get_server_info` reports them (SGLang's names).
    private func serverArgs(
        modelPath: String, tokenizerPath: String, name: String, contextLength: Int, layout: KVCacheLayout
    ) -> JSONObject {
        func optional(_ value: Int?) -> JSONValue { value.map { .int($0) } ?? .null }
        return [
            "model_path": .string(modelPath),
            "tokenizer_path": .string(tokenizerPath),
            "host": .string(host),
            "port": .int(port),
            "device": .string(device.rawValue),
            "served_model_name": .string(name),
            "api_key": apiKey == nil ? .null : "<set>",
            "context_length": .int(contextLength),
            "max_running_requests": .int(maxRunningRequests),
            "max_queued_requests": .int(maxQueuedRequests),
            "max_total_tokens": .int(layout.capacityTokens),
            "mem_fraction_static": memFractionStatic.map { .double($0) } ?? .null,
            "chunked_prefill_size": .int(chunkedPrefillSize),
            "page_size": .int(layout.pageSize),
            "disable_radix_cache": .bool(disableRadixCache),
            "load_format": .string(loadFormat.rawValue),
            "chat_template": chatTemplate.map { .string($0) } ?? .null,
            "random_seed": randomSeed.map { .int(Int(truncatingIfNeeded: $0)) } ?? .null,
            "skip_tokenizer_init": .bool(skipTokenizerInit),
            "log_level": .string(logLevel),
            "tp_size": .int(tp),
            "dp_size": .int(dp),
            "ep_size": .int(epSize),
            "sampling_defaults": "model",
            "tool_call_parser": toolCallParser.map { .string($0) } ?? .null,
            "reasoning_parser": reasoningParser.map { .string($0) } ?? .null,
        ]
    }
}

/// Prints a startup line and flushes stdout (scripts wait for these lines through a pipe).
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

enum DeviceChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, cpu, cuda
}

enum LoadFormatChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, safetensors, dummy

    var format: LoadFormat {
        switch self {
        case .auto: .auto
        case .safetensors: .safetensors
        case .dummy: .dummy
        }
    }
}

/// With `--skip-tokenizer-init` requests produce token ids only.
struct NoTextDecoder: IncrementalTextDecoder {
    mutating func append(_ id: Int) -> String { "" }
    mutating func finish() -> String { "" }
}
