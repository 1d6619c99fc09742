public import ErnieModel
public import ErnieTemplate
public import ErnieTokenizer

/// The model the server answers for, with what the HTTP layer needs to turn requests into token ids.
public struct ServedModel: Sendable {
    /// `--served-model-name` (the `model` field clients send and `/v1/models` lists).
    public var name: String
    public var modelPath: String
    public var tokenizerPath: String
    public var config: ModelConfig
    /// Longest prompt plus completion, in tokens.
    public var contextLength: Int
    /// `nil` with `--skip-tokenizer-init`: only token ids in and out.
    public var tokenizer: Tokenizer?
    /// The chat template (`--chat-template` or the tokenizer's); `nil` when there is none.
    public var chatTemplate: ChatTemplate?
    public var samplingDefaults: SamplingDefaults

    public init(
        name: String, modelPath: String, tokenizerPath: String, config: ModelConfig, contextLength: Int,
        tokenizer: Tokenizer?, chatTemplate: ChatTemplate?, samplingDefaults: SamplingDefaults = .none
    ) {
        self.name = name
        self.modelPath = modelPath
        self.tokenizerPath = tokenizerPath
        self.config = config
        self.contextLength = contextLength
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        self.samplingDefaults = samplingDefaults
    }

    /// Token ids accepted in `input_ids` and `/detokenize`: the model's vocabulary.
    public var vocabularySize: Int { config.vocabSize }
}
