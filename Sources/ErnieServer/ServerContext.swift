import Foundation
public import Logging
import Synchronization

/// Everything the route handlers share: the engine, the served model, the settings and the metrics.
public final class ServerContext: Sendable {
    public let engine: any GenerationEngine
    public let model: ServedModel
    public let configuration: ServerConfiguration
    public let metrics: ServerMetrics
    public let logger: Logger
    /// Compiles and caches structured-output constraints.
    let grammars: GrammarService
    /// Set when graceful shutdown begins: `/health` answers 503 and new generations are refused.
    private let stopping = Atomic<Bool>(false)
    private let requestCounter = Atomic<Int>(0)
    /// Process start, for `created` fields and ids.
    let startTime = Date()

    public init(
        engine: any GenerationEngine, model: ServedModel, configuration: ServerConfiguration,
        metrics: ServerMetrics? = nil, logger: Logger = Logger(label: "ernie.server")
    ) {
        self.engine = engine
        self.model = model
        self.configuration = configuration
        self.metrics = metrics ?? ServerMetrics(modelName: model.name)
        self.logger = logger
        let tokenizerVocabulary = model.tokenizer?.vocabularySize ?? 0
        grammars = GrammarService(
            tokenizer: model.tokenizer,
            vocabularySize: tokenizerVocabulary > 0
                ? min(tokenizerVocabulary, model.config.vocabSize) : model.config.vocabSize)
    }

    public var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Marks the server as stopping (health checks fail, new generations get 503).
    public func beginStopping() {
        stopping.store(true, ordering: .releasing)
    }

    /// A fresh request id with `prefix` (`chatcmpl-`, `cmpl-`), unique within this process and across restarts.
    func makeRequestID(prefix: String) -> String {
        let serial = requestCounter.wrappingAdd(1, ordering: .relaxed).newValue
        let random = UInt64.random(in: 0...UInt64.max)
        return prefix + String(random, radix: 16) + String(serial, radix: 16)
    }

    /// Seconds since 1970 (OpenAI's `created`).
    var now: Int { Int(Date().timeIntervalSince1970) }

    /// Checks a client's `model` field: the served name or the model path is accepted, as is no name at all.
    func checkModel(_ name: String?) throws(APIError) {
        guard let name, !name.isEmpty else { return }
        if name == model.name || name == model.modelPath { return }
        throw .modelNotFound(name, served: model.name)
    }
}
