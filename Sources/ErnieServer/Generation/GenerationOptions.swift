import ErnieModel

/// The sampling and stopping options of one request, in the same form for every API (OpenAI fields or SGLang's
/// `sampling_params`); validated when read.
public struct GenerationOptions: Sendable, Equatable {
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var minP: Double?
    public var repetitionPenalty: Double?
    public var frequencyPenalty: Double?
    public var presencePenalty: Double?
    public var seed: Int?
    /// `nil`: the API's default (chat: the rest of the context; completions 16; `/generate` 128).
    public var maxNewTokens: Int?
    public var minNewTokens: Int = 0
    public var stop: [String] = []
    public var stopTokenIDs: [Int] = []
    public var ignoreEOS = false
    public var skipSpecialTokens = true
    public var n = 1
    /// Structured output (completions' `response_format`, SGLang's `json_schema` / `regex` / `ebnf`).
    var structured: StructuredRequest?

    public init() {}

    /// Largest `n` accepted.
    public static let maximumN = 128
    /// Most stop strings accepted in one request.
    public static let maximumStopStrings = 64

    /// Reads the sampling fields shared by the OpenAI routes (and SGLang's `sampling_params`, which uses the same
    /// names except for the token limits).
    mutating func readSampling(_ reader: FieldReader) throws(APIError) {
        temperature = try reader.double("temperature", "at least 0") { $0 >= 0 }
        topP = try reader.double("top_p", "in (0, 1]") { $0 > 0 && $0 <= 1 }
        topK = try reader.int("top_k")
        if let topK, topK < -1 {
            throw .invalidParameter(
                reader.param("top_k"),
                "'\(reader.param("top_k"))' must be -1 or 0 (disabled) or at least 1, got \(topK).")
        }
        minP = try reader.double("min_p", "in [0, 1]") { $0 >= 0 && $0 <= 1 }
        repetitionPenalty = try reader.double("repetition_penalty", "in (0, 2]") { $0 > 0 && $0 <= 2 }
        frequencyPenalty = try reader.double("frequency_penalty", "in [-2, 2]") { $0 >= -2 && $0 <= 2 }
        presencePenalty = try reader.double("presence_penalty", "in [-2, 2]") { $0 >= -2 && $0 <= 2 }
        seed = try reader.int("seed")
        let minTokens = try reader.int("min_tokens")
        let minNewTokensField = try reader.int("min_new_tokens")
        minNewTokens = minTokens ?? minNewTokensField ?? 0
        if minNewTokens < 0 {
            throw .invalidParameter(reader.param("min_tokens"), "'min_tokens' must be at least 0, got \(minNewTokens).")
        }
        stop = try reader.stringList("stop") ?? []
        if let empty = stop.firstIndex(of: "") {
            throw .invalidParameter("\(reader.param("stop"))[\(empty)]", "Stop strings must not be empty.")
        }
        if stop.count > Self.maximumStopStrings {
            throw .invalidParameter(
                reader.param("stop"),
                "At most \(Self.maximumStopStrings) stop strings are accepted, got \(stop.count).")
        }
        if let bias = try reader.object("logit_bias"), !bias.isEmpty {
            throw .invalidParameter(reader.param("logit_bias"), "'logit_bias' is not supported by this server.")
        }
        stopTokenIDs = try reader.intList("stop_token_ids") ?? []
        ignoreEOS = try reader.bool("ignore_eos") ?? false
        skipSpecialTokens = try reader.bool("skip_special_tokens") ?? true
        n = try reader.int("n", in: 1...Self.maximumN) ?? 1
    }

    /// Checks the token limits against each other once they are known.
    func validateLimits(maxParam: String) throws(APIError) {
        if let maxNewTokens, minNewTokens > maxNewTokens {
            throw .invalidParameter(
                "min_tokens", "'min_tokens' (\(minNewTokens)) must not exceed '\(maxParam)' (\(maxNewTokens)).")
        }
    }

    /// The engine's sampling parameters: request values, else the model's defaults, else OpenAI's.
    func samplingParams(defaults: SamplingDefaults) -> SamplingParams {
        SamplingParams(
            temperature: Float(temperature ?? defaults.temperature ?? 1),
            topP: Float(topP ?? defaults.topP ?? 1),
            topK: topK ?? defaults.topK ?? -1,
            minP: Float(minP ?? defaults.minP ?? 0),
            repetitionPenalty: Float(repetitionPenalty ?? defaults.repetitionPenalty ?? 1),
            frequencyPenalty: Float(frequencyPenalty ?? 0),
            presencePenalty: Float(presencePenalty ?? 0)
        )
    }
}
