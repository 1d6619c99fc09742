public import ErnieTokenizer

/// Turns one request's generated token ids into text, a token at a time, never splitting a UTF-8 character.
package protocol IncrementalTextDecoder {
    /// Adds one token and returns the text that became final.
    mutating func append(_ id: Int) -> String
    /// Returns whatever text is still held back.
    mutating func finish() -> String
}

extension StreamingDetokenizer: IncrementalTextDecoder {}

/// Makes a fresh decoder for a request (the argument is its `skipSpecialTokens`).
package typealias TextDecoderFactory = @Sendable (_ skipSpecialTokens: Bool) -> any IncrementalTextDecoder

extension Tokenizer {
    /// Streaming detokenizers over this tokenizer.
    var textDecoderFactory: TextDecoderFactory {
        { skip in StreamingDetokenizer(tokenizer: self, skipSpecialTokens: skip) }
    }
}
