/// Incremental decoding shared by `Tokenizer.decode` and `StreamingDetokenizer`: feeding ids one at a time produces,
/// concatenated, exactly the text of decoding them all at once, and every piece of output is whole characters.
struct DecodeState: Sendable {
    private enum Inner: Sendable {
        case sentencePiece(SentencePieceDecodeState)
        case huggingFace(HFDecodeState)
        /// Placeholder while a state is taken out for mutation (keeps its buffers uniquely referenced).
        case moving
    }

    private var inner: Inner
    let skipSpecialTokens: Bool

    init(tokenizer: Tokenizer, skipSpecialTokens: Bool) {
        self.skipSpecialTokens = skipSpecialTokens
        switch tokenizer.backend {
        case .sentencePiece: inner = .sentencePiece(SentencePieceDecodeState())
        case .huggingFace(let hf): inner = .huggingFace(HFDecodeState(decoder: hf.decoder))
        }
    }

    /// Decodes `id`, appending the text that became final to `output`.
    mutating func push(_ id: Int, tokenizer: Tokenizer, into output: inout [UInt8]) {
        var taken = Inner.moving
        swap(&taken, &inner)
        switch (consume taken, tokenizer.backend) {
        case (.sentencePiece(var state), .sentencePiece(let sp)):
            if let content = sp.addedContent(id) {
                // Added tokens are emitted verbatim between separately decoded runs; skipped special tokens vanish
                // without ending the run (they are removed before decoding, as transformers does).
                if !(skipSpecialTokens && tokenizer.specialTokenIDs.contains(id)) {
                    state.endRun(into: &output)
                    output.append(contentsOf: content.utf8)
                }
            } else if id >= 0 && id < sp.model.count {
                state.push(id, model: sp.model, into: &output)
            }
            inner = .sentencePiece(state)
        case (.huggingFace(var state), .huggingFace(let hf)):
            if let token = hf.decodingToken(for: id, skipSpecialTokens: skipSpecialTokens) {
                state.push(token: Array(token.utf8), into: &output)
            }
            inner = .huggingFace(state)
        default:
            break
        }
    }

    /// Emits whatever is still held back (incomplete UTF-8 becomes U+FFFD as the reference decoders do).
    mutating func finish(tokenizer: Tokenizer, into output: inout [UInt8]) {
        var taken = Inner.moving
        swap(&taken, &inner)
        switch consume taken {
        case .sentencePiece(var state):
            state.endRun(into: &output)
            inner = .sentencePiece(state)
        case .huggingFace(var state):
            state.finish(into: &output)
            inner = .huggingFace(state)
        case .moving:
            break
        }
    }
}
