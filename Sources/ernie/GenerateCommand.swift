import ArgumentParser
import ErnieModel
import ErnieTemplate
import ErnieTokenizer
import Foundation

/// `ernie generate`: one prompt, one sequence, text streamed to stdout as it is produced.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from one prompt and stream it to stdout.",
        discussion: "Runs the model without the server (on the GPU when there is one, else the CPU): prefill, then "
            + "one token per step until an end token or --max-new-tokens. Timing goes to stderr."
    )

    @Option(name: .customLong("model-path"), help: "Model folder (config.json, safetensors, tokenizer). Default: the demo model.")
    var modelPath: String?

    @Option(help: "The prompt text.")
    var prompt: String

    @Flag(help: "Wrap the prompt as a user message in the model's chat template (with the generation prompt).")
    var chat = false

    @Option(help: "System message for --chat.")
    var system: String?

    @Option(name: .customLong("max-new-tokens"), help: "Most tokens to generate.")
    var maxNewTokens = 128

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0

    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass.")
    var topP: Float = 1

    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens; -1 disables.")
    var topK = -1

    @Option(name: .customLong("min-p"), help: "Drop tokens below min-p times the top probability.")
    var minP: Float = 0

    @Option(name: .customLong("repetition-penalty"))
    var repetitionPenalty: Float = 1

    @Option(name: .customLong("frequency-penalty"))
    var frequencyPenalty: Float = 0

    @Option(name: .customLong("presence-penalty"))
    var presencePenalty: Float = 0

    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @Flag(name: .customLong("ignore-eos"), help: "Do not stop at end tokens.")
    var ignoreEOS = false

    @Option(name: .customLong("load-format"), help: "auto | safetensors | dummy (random weights of the configured shapes).")
    var loadFormat: String = "auto"

    @Option(name: .customLong("prefill-chunk"), help: "Prompt tokens per forward step.")
    var prefillChunk = 512

    @Option(help: "auto (the GPU when there is one) | cpu | cuda.")
    var device: DeviceChoice = .auto

    @Option(
        name: [.customLong("tp"), .customLong("tp-size")],
        help: "Tensor-parallel size: the model split over this many GPUs (CPU: rank threads).")
    var tp = 1

    @Option(
        name: [.customLong("ep-size"), .customLong("ep")],
        help: "Expert-parallel size: routed experts partitioned over this many groups of the --tp ranks.")
    var epSize = 1

    func validate() throws {
        guard LoadFormat(rawValue: loadFormat) != nil else {
            throw ValidationError("--load-format must be one of: auto, safetensors, dummy")
        }
        guard maxNewTokens >= 1 else { throw ValidationError("--max-new-tokens must be at least 1") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be >= 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard minP >= 0, minP <= 1 else { throw ValidationError("--min-p must be in [0, 1]") }
        guard repetitionPenalty > 0 else { throw ValidationError("--repetition-penalty must be > 0") }
        guard prefillChunk >= 1 else { throw ValidationError("--prefill-chunk must be at least 1") }
        guard tp >= 1, epSize >= 1 else { throw ValidationError("--tp and --ep-size must be at least 1") }
    }

    func run() async throws {
        guard let directory = modelPath ?? DemoModel.path() else {
            throw ValidationError("no --model-path given and the demo model was not found")
        }
        let format = LoadFormat(rawValue: loadFormat) ?? .auto
        let config = try ModelConfig(contentsOf: directory)
        let tokenizer = try Tokenizer.load(directory: directory)
        let promptIDs = try encodePrompt(tokenizer).map(Int32.init)
        guard !promptIDs.isEmpty else { throw ValidationError("the prompt encodes to no tokens") }

        let pageSize = 16
        let pages = (promptIDs.count + maxNewTokens + pageSize - 1) / pageSize
        let loadStart = Date()
        let options = ModelFactory.Options(
            modelPath: directory, device: device, loadFormat: format, pageSize: pageSize,
            maxTotalTokens: pages * pageSize, memFractionStatic: nil, seed: seed,
            maxTokensPerStep: max(prefillChunk, 1), tpSize: tp, epSize: epSize)
        try ModelFactory.checkParallelism(options, config: config, device: ModelFactory.resolve(device))
        let executor = try ModelFactory.load(options).executor
        let loadSeconds = Date().timeIntervalSince(loadStart)

        var stops = Set(config.eosTokenIDs.map(Int32.init))
        stops.formUnion(tokenizer.eosTokenIDs.map(Int32.init))
        if ignoreEOS { stops = [] }
        let realVocabulary = tokenizer.vocabularySize
        let vocabLimit = realVocabulary > 0 ? min(realVocabulary, config.vocabSize) : config.vocabSize
        let sampling = SamplingParams(
            temperature: temperature, topP: topP, topK: topK, minP: minP, repetitionPenalty: repetitionPenalty,
            frequencyPenalty: frequencyPenalty, presencePenalty: presencePenalty, seed: seed
        )

        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: true)
        let stdout = FileHandle.standardOutput
        let start = Date()
        var firstToken: Date?
        let output = try SequentialGenerator(executor: executor).generate(
            prompt: promptIDs, sampling: sampling, maxNewTokens: maxNewTokens, stopTokens: stops,
            chunkSize: prefillChunk, vocabLimit: vocabLimit
        ) { token in
            if firstToken == nil { firstToken = Date() }
            let text = detokenizer.append(Int(token))
            if !text.isEmpty { stdout.write(Data(text.utf8)) }
        }
        let rest = detokenizer.finish()
        stdout.write(Data((rest + "\n").utf8))

        let end = Date()
        let prefill = (firstToken ?? end).timeIntervalSince(start)
        let decodeTokens = max(output.tokens.count - 1, 0)
        let decode = end.timeIntervalSince(firstToken ?? end)
        let reason: String
        switch output.finishReason {
        case let .stop(token): reason = "stop token \(token)"
        case .length: reason = "max new tokens"
        }
        let report = String(
            format: "[%@] load %.2f s; prompt %d tokens in %.3f s; %d tokens decoded at %.1f tokens/s; finished: %@\n",
            executor.deviceDescription, loadSeconds, promptIDs.count, prefill, output.tokens.count,
            decode > 0 ? Double(decodeTokens) / decode : 0, reason
        )
        FileHandle.standardError.write(Data(report.utf8))
    }

    /// The prompt's token ids: plain text, or rendered through the chat template with `--chat`.
    private func encodePrompt(_ tokenizer: Tokenizer) throws -> [Int] {
        guard chat else { return tokenizer.encode(prompt, parseSpecialTokens: true) }
        guard let source = tokenizer.chatTemplate else {
            throw ValidationError("--chat: the model folder has no chat template")
        }
        var messages: [JinjaValue] = []
        if let system {
            messages.append(.object([("role", .string("system")), ("content", .string(system))]))
        }
        messages.append(.object([("role", .string("user")), ("content", .string(prompt))]))
        var context: [String: JinjaValue] = [
            "messages": .array(messages),
            "add_generation_prompt": .bool(true),
        ]
        for (key, value) in tokenizer.specialTokenStrings { context[key] = .string(value) }
        let text = try ChatTemplate(source: source).render(context)
        return tokenizer.encode(text, parseSpecialTokens: true)
    }
}
