/// The bytes one token contributes to decoded text, for constrained decoding (a grammar over bytes must know which
/// bytes each token would append to the output).
public struct TokenSurface: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A vocabulary piece or a byte-fallback token.
        case text
        /// A non-special added token (its content is emitted verbatim).
        case added
        /// A special added token (dropped when decoding with `skipSpecialTokens`).
        case special
    }

    public var kind: Kind
    /// What the token appends in the middle of a decoding run.
    public var bytes: [UInt8]
    /// What it appends as the first token of a run (SentencePiece removes the leading `▁` of a run's first piece
    /// when the model adds a dummy prefix; Hugging Face `Metaspace`/`Strip` decoders do the same for the first token).
    public var runStartBytes: [UInt8]
    /// Whether the token after this one starts a new decoding run (SentencePiece decodes each run of pieces between
    /// added tokens on its own).
    public var endsRun: Bool

    public init(kind: Kind, bytes: [UInt8], runStartBytes: [UInt8], endsRun: Bool) {
        self.kind = kind
        self.bytes = bytes
        self.runStartBytes = runStartBytes
        self.endsRun = endsRun
    }
}

extension Tokenizer {
    /// The surface of every id below `vocabularySize` (`nil` for ids that never produce text: control and unknown
    /// pieces, ids naming no token, tokens whose decoding this function cannot attribute to the token alone).
    ///
    /// The contract, checked by tests against `decode`: for ids `t0, t1, ...` that decode to valid UTF-8 without
    /// special tokens, `decode(ids)` is `t0.runStartBytes + t1.bytes + ...` (with a run restarting after a token whose
    /// `endsRun` is set).
    public func tokenSurfaces() -> [TokenSurface?] {
        switch backend {
        case .sentencePiece(let tokenizer): return sentencePieceSurfaces(tokenizer)
        case .huggingFace(let tokenizer): return huggingFaceSurfaces(tokenizer)
        }
    }

    private func sentencePieceSurfaces(_ tokenizer: SentencePieceTokenizer) -> [TokenSurface?] {
        let model = tokenizer.model
        let space = SentencePieceNormalizer.spaceSymbol
        let stripsRunStart = model.normalizer.addDummyPrefix || model.normalizer.removeExtraWhitespaces
        var result = [TokenSurface?](repeating: nil, count: vocabularySize)
        for id in 0..<vocabularySize {
            if let content = tokenizer.addedContent(id) {
                let bytes = Array(content.utf8)
                let kind: TokenSurface.Kind = specialTokenIDs.contains(id) ? .special : .added
                result[id] = TokenSurface(kind: kind, bytes: bytes, runStartBytes: bytes, endsRun: true)
                continue
            }
            guard id < model.count else { continue }
            if model.byteValues[id] >= 0 {
                let byte = [UInt8(model.byteValues[id])]
                result[id] = TokenSurface(kind: .text, bytes: byte, runStartBytes: byte, endsRun: false)
                continue
            }
            switch model.types[id] {
            case .control, .unknown: continue
            default: break
            }
            let piece = model.pieces[id]
            var bytes: [UInt8] = []
            var index = 0
            while index < piece.count {
                if index + 2 < piece.count && piece[index] == space[0] && piece[index + 1] == space[1]
                    && piece[index + 2] == space[2]
                {
                    bytes.append(0x20)
                    index += 3
                } else {
                    bytes.append(piece[index])
                    index += 1
                }
            }
            let start = stripsRunStart && piece.starts(with: space) ? Array(bytes.dropFirst()) : bytes
            result[id] = TokenSurface(kind: .text, bytes: bytes, runStartBytes: start, endsRun: false)
        }
        return result
    }

    private func huggingFaceSurfaces(_ tokenizer: HFTokenizer) -> [TokenSurface?] {
        var result = [TokenSurface?](repeating: nil, count: vocabularySize)
        let steps = tokenizer.decoder.steps
        let byteLevel = steps.contains { if case .byteLevel = $0 { true } else { false } }
        let byteFallback = steps.contains { if case .byteFallback = $0 { true } else { false } }
        // A plain token whose text cannot interact with a following token: what comes after it is mid-run.
        let anchor = ["a", "e", "t", "s", "▁a", "Ġa"].lazy.compactMap { tokenizer.tokenID(for: $0) }.first { id in
            let text = self.decode([id])
            return !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x21 && $0 < 0x7F }
        }
        let anchorText = anchor.map { Array(decode([$0]).utf8) }
        for id in 0..<vocabularySize {
            guard let token = tokenizer.token(for: id) else { continue }
            let isAdded = tokenizer.added.id(for: token) == id
            let kind: TokenSurface.Kind =
                specialTokenIDs.contains(id) ? .special : isAdded ? .added : .text
            let raw = Array(token.utf8)
            if byteFallback, !isAdded, let byte = HFDecoderStage.fallbackByte(raw) {
                result[id] = TokenSurface(kind: kind, bytes: [byte], runStartBytes: [byte], endsRun: false)
                continue
            }
            if byteLevel {
                let bytes = ByteLevel.decode(raw)
                result[id] = TokenSurface(kind: kind, bytes: bytes, runStartBytes: bytes, endsRun: false)
                continue
            }
            guard let anchor, let anchorText else { continue }
            let alone = Array(decode([id]).utf8)
            let joined = Array(decode([anchor, id]).utf8)
            guard joined.starts(with: anchorText) else { continue }
            let bytes = Array(joined[anchorText.count...])
            result[id] = TokenSurface(kind: kind, bytes: bytes, runStartBytes: alone, endsRun: false)
        }
        return result
    }
}
