/// A loaded tokenizer: SentencePiece `tokenizer.model` or Hugging Face `tokenizer.json`, plus the added and special
/// tokens from `tokenizer_config.json`, `added_tokens.json` and `special_tokens_map.json`.
///
/// Immutable and `Sendable`: one instance is shared by every request.
///
/// Ids beyond the base vocabulary: added tokens keep the ids their files give them even when these exceed the
/// model's vocabulary (ERNIE's `added_tokens.json` starts at 100295), so `vocabularySize` is the highest real id + 1;
/// ids in between that name no token (and ids at or above `vocabularySize`) decode to nothing and have no
/// `token(for:)`.
public struct Tokenizer: Sendable {
    /// Which vocabulary file a tokenizer was loaded from.
    public enum Format: Sendable, Equatable {
        /// A SentencePiece `tokenizer.model`.
        case sentencePiece
        /// A Hugging Face `tokenizer.json`.
        case huggingFaceJSON
    }

    /// Which file `load(directory:format:)` reads when a folder has both.
    public enum FormatPreference: Sendable {
        /// `tokenizer.model` when present (the original tokenizer of ERNIE checkpoints), else `tokenizer.json`.
        case automatic
        case sentencePiece
        case huggingFaceJSON
    }

    enum Backend: Sendable {
        case sentencePiece(SentencePieceTokenizer)
        case huggingFace(HFTokenizer)
    }

    let backend: Backend

    /// The vocabulary file this tokenizer was loaded from.
    public let format: Format
    /// Number of ids that are real tokens (base vocabulary plus added tokens); larger ids are embedding padding.
    public let vocabularySize: Int
    /// Ids of special tokens (skipped by `decode(_:skipSpecialTokens: true)`).
    public let specialTokenIDs: Set<Int>
    /// `eos_token` and the other configured end tokens the engine stops on by default: the id of `eos_token`, the
    /// `eos_token_id` of `generation_config.json`, and `<|end_of_sentence|>` / `<|im_end|>` when they are tokens
    /// (ERNIE chat models end assistant turns with `<|end_of_sentence|>`, the Thinking model with `<|im_end|>`).
    public let eosTokenIDs: Set<Int>
    /// The chat template from `chat_template.jinja`, `chat_template.json` or `tokenizer_config.json`, if any.
    public let chatTemplate: String?
    /// The `*_token` strings from the configuration files (`bos_token`, `eos_token`, `cls_token`, ...), for templates.
    public let specialTokenStrings: [String: String]

    /// Loads the tokenizer files from a model or tokenizer folder (`tokenizer.model` preferred over `tokenizer.json`).
    public static func load(directory: String) throws -> Tokenizer {
        try load(directory: directory, format: .automatic)
    }

    /// Token ids of `text`. No BOS is added. With `parseSpecialTokens`, added/special tokens written in the text map to
    /// their ids (text is split on them first, longest match wins, and each remaining segment is encoded on its own).
    ///
    /// Without `parseSpecialTokens`, a `tokenizer.model` tokenizer hands the whole text to SentencePiece (transformers'
    /// `split_special_tokens`; the model's own user-defined pieces are still matched whole, as SentencePiece does),
    /// and a `tokenizer.json` tokenizer skips only the special added tokens (the tokenizers library's
    /// `encode_special_tokens`).
    public func encode(_ text: String, parseSpecialTokens: Bool = true) -> [Int] {
        switch backend {
        case .sentencePiece(let tokenizer): return tokenizer.encode(text, parseSpecialTokens: parseSpecialTokens)
        case .huggingFace(let tokenizer): return tokenizer.encode(text, parseSpecialTokens: parseSpecialTokens)
        }
    }

    /// Text of `ids`. Ids outside the vocabulary decode to nothing.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var state = DecodeState(tokenizer: self, skipSpecialTokens: skipSpecialTokens)
        var output: [UInt8] = []
        for id in ids { state.push(id, tokenizer: self, into: &output) }
        state.finish(tokenizer: self, into: &output)
        return UTF8Decoding.string(output)
    }

    /// The id of a token string (an added token or a vocabulary entry), or nil.
    public func tokenID(for token: String) -> Int? { Tokenizer.tokenID(token, backend: backend) }

    static func tokenID(_ token: String, backend: Backend) -> Int? {
        switch backend {
        case .sentencePiece(let tokenizer): return tokenizer.added.id(for: token) ?? tokenizer.model.pieceID(token)
        case .huggingFace(let tokenizer): return tokenizer.tokenID(for: token)
        }
    }

    /// The token string of an id (an added token's content or a vocabulary entry), or nil.
    public func token(for id: Int) -> String? {
        switch backend {
        case .sentencePiece(let tokenizer):
            if let content = tokenizer.addedContent(id) { return content }
            guard id >= 0 && id < tokenizer.model.count else { return nil }
            return String(decoding: tokenizer.model.pieces[id], as: UTF8.self)
        case .huggingFace(let tokenizer):
            return tokenizer.token(for: id)
        }
    }
}
