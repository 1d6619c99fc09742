/// Turns a growing list of token ids into text, emitting only whole UTF-8 characters.
///
/// It runs the tokenizer's decoder incrementally (constant work per token, no re-decoding of earlier ids): bytes of
/// byte-fallback pieces are held until their character is complete, and the concatenation of everything `append`
/// and `finish` return equals `tokenizer.decode(allIDs, skipSpecialTokens:)`.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: Tokenizer
    private var state: DecodeState
    private var buffer: [UInt8] = []

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool) {
        self.tokenizer = tokenizer
        self.state = DecodeState(tokenizer: tokenizer, skipSpecialTokens: skipSpecialTokens)
    }

    /// Adds one token and returns the text that became final.
    public mutating func append(_ id: Int) -> String {
        buffer.removeAll(keepingCapacity: true)
        state.push(id, tokenizer: tokenizer, into: &buffer)
        return UTF8Decoding.string(buffer)
    }

    /// Returns whatever text is still held back (an incomplete character is dropped or replaced per the tokenizer's
    /// decoding rules).
    public mutating func finish() -> String {
        buffer.removeAll(keepingCapacity: true)
        state.finish(tokenizer: tokenizer, into: &buffer)
        return UTF8Decoding.string(buffer)
    }
}
