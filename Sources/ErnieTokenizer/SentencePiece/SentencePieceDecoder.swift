/// Incremental form of sentencepiece's `Decode` for one run of piece ids (a run ends at an added/special token or at
/// the end): `▁` becomes a space, a leading `▁` of the run is removed when the model adds a dummy prefix or removes
/// extra whitespace, control pieces vanish, unknown pieces become `unk_surface`, and consecutive byte pieces are
/// assembled into UTF-8 with each structurally invalid byte replaced by U+FFFD.
///
/// Bytes are emitted as soon as they can no longer change, so feeding ids one by one yields, concatenated, exactly
/// the text of decoding them all at once.
struct SentencePieceDecodeState: Sendable {
    /// Bytes of byte pieces whose characters are not complete yet.
    private var pendingBytes: [UInt8] = []
    /// sentencepiece's `is_bos_ws`, `bos_ws_seen`, and whether the run's text is still empty.
    private var isBeginningOfSentence = true
    private var sawBeginningWhitespace = false
    private var runIsEmpty = true

    /// Decodes piece `id` (a valid index into `model.pieces`), appending final text to `output`.
    mutating func push(_ id: Int, model: SentencePieceModel, into output: inout [UInt8]) {
        let byte = model.byteValues[id]
        if byte >= 0 {
            pendingBytes.append(UInt8(byte))
            emitBytes(final: false, into: &output)
            return
        }
        emitBytes(final: true, into: &output)
        if sawBeginningWhitespace || !runIsEmpty { isBeginningOfSentence = false }
        let before = output.count
        sawBeginningWhitespace = decodePiece(id, model: model, into: &output)
        if output.count != before { runIsEmpty = false }
    }

    /// Ends the run: emits the remaining bytes and starts afresh.
    mutating func endRun(into output: inout [UInt8]) {
        emitBytes(final: true, into: &output)
        isBeginningOfSentence = true
        sawBeginningWhitespace = false
        runIsEmpty = true
    }

    /// Appends the surface of a non-byte piece; returns whether it consumed a beginning-of-sentence `▁`.
    private func decodePiece(_ id: Int, model: SentencePieceModel, into output: inout [UInt8]) -> Bool {
        switch model.types[id] {
        case .control:
            return false
        case .unknown:
            output.append(contentsOf: model.unknownSurface)
            return false
        default:
            break
        }
        let piece = model.pieces[id]
        let space = SentencePieceNormalizer.spaceSymbol
        var index = 0
        var consumed = false
        let normalizer = model.normalizer
        if isBeginningOfSentence && (normalizer.addDummyPrefix || normalizer.removeExtraWhitespaces)
            && piece.starts(with: space)
        {
            index = space.count
            consumed = !normalizer.removeExtraWhitespaces
        }
        while index < piece.count {
            if index + 2 < piece.count && piece[index] == space[0] && piece[index + 1] == space[1]
                && piece[index + 2] == space[2]
            {
                output.append(0x20)
                index += 3
            } else {
                output.append(piece[index])
                index += 1
            }
        }
        return consumed
    }

    /// Emits the characters of `pendingBytes` that are decided; with `final`, all of them.
    private mutating func emitBytes(final: Bool, into output: inout [UInt8]) {
        if pendingBytes.isEmpty { return }
        let before = output.count
        let consumed = pendingBytes.withUnsafeBufferPointer { bytes -> Int in
            var index = 0
            while index < bytes.count {
                let (valid, length) = UTF8Decoding.sentencePieceDecode(bytes, index, bytes.count)
                if valid {
                    output.append(contentsOf: bytes[index..<(index + length)])
                    index += length
                } else if !final && UTF8Decoding.sentencePieceCanComplete(bytes, index, bytes.count) {
                    break
                } else {
                    output.append(contentsOf: UTF8Decoding.replacement)
                    index += 1
                }
            }
            return index
        }
        pendingBytes.removeFirst(consumed)
        if output.count != before { runIsEmpty = false }
    }
}
