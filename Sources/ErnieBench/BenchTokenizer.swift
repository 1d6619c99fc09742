import ErnieTokenizer

/// What the benchmark needs from a tokenizer: the datasets re-tokenize ShareGPT text and decode token lists back to
/// text, and the report counts the generated text's tokens ("retokenized").
///
/// `encode` must add no BOS/EOS (SGLang's `tokenizer.encode(..., add_special_tokens=False)`; ERNIE-4.5's tokenizer adds
/// none by default either, so SGLang's plain `tokenizer.encode(prompt)` gives the same ids).
public protocol BenchTokenizer: Sendable {
    /// Token ids of `text`, no special tokens added.
    func encodeText(_ text: String) -> [Int]
    /// Text of `ids`.
    func decodeIDs(_ ids: [Int]) -> String
    /// Size of the vocabulary (`tokenizer.vocab_size`): `random-ids` draws ids below it.
    var vocabularySize: Int { get }
    /// Every id of the vocabulary (`tokenizer.get_vocab().values()`): `generated-shared-prefix` samples from it.
    var allTokenIDs: [Int] { get }
}

extension Tokenizer: BenchTokenizer {
    public func encodeText(_ text: String) -> [Int] { encode(text, parseSpecialTokens: true) }
    public func decodeIDs(_ ids: [Int]) -> String { decode(ids, skipSpecialTokens: false) }
    public var allTokenIDs: [Int] { Array(0..<vocabularySize) }
}
