/// A loaded tokenizer: SentencePiece `tokenizer.model` or Hugging Face `tokenizer.json`, plus the added and special
/// tokens from `tokenizer_config.json`, `added_tokens.json` and `special_tokens_map.json`.
///
/// Immutable and `Sendable`: one instance is shared by every request.
public struct Tokenizer: Sendable {
    /// Loads the tokenizer files from a model or tokenizer folder.
    public static func load(directory: String) throws -> Tokenizer {
        throw TokenizerError(message: "tokenizer loading is not implemented yet")
    }

    /// Token ids of `text`. No BOS is added. With `parseSpecialTokens`, added/special tokens written in the text map to
    /// their ids (text is split on them first).
    public func encode(_ text: String, parseSpecialTokens: Bool = true) -> [Int] { [] }

    /// Text of `ids`. Ids outside the vocabulary decode to nothing.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String { "" }

    /// Number of ids that are real tokens (base vocabulary plus added tokens); larger ids are embedding padding.
    public var vocabularySize: Int { 0 }

    public func tokenID(for token: String) -> Int? { nil }
    public func token(for id: Int) -> String? { nil }
    /// Ids of special tokens (skipped by `decode(_:skipSpecialTokens: true)`).
    public var specialTokenIDs: Set<Int> { [] }
    /// `eos_token` and the other configured end tokens the engine stops on by default.
    public var eosTokenIDs: Set<Int> { [] }
    /// The chat template from `tokenizer_config.json` or `chat_template.jinja`, if any.
    public var chatTemplate: String? { nil }
    /// The `*_token` strings from the configuration files (`bos_token`, `eos_token`, `cls_token`, ...), for templates.
    public var specialTokenStrings: [String: String] { [:] }
}

/// Turns a growing list of token ids into text, emitting only whole UTF-8 characters.
public struct StreamingDetokenizer: Sendable {
    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool) {}

    /// Adds one token and returns the text that became final.
    public mutating func append(_ id: Int) -> String { "" }

    /// Returns whatever text is still held back (an incomplete character is dropped or replaced per the tokenizer's
    /// decoding rules).
    public mutating func finish() -> String { "" }
}

public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
