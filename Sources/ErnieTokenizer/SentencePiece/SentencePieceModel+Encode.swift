extension SentencePieceModel {
    /// One segment of the model's output: bytes `start..<end` of the normalized text and the piece id.
    struct EncodedPiece {
        var start: Int
        var end: Int
        var id: Int
    }

    /// sentencepiece's `SentencePieceProcessor::Encode` ids: normalize, run the BPE or unigram model, decompose unknown
    /// pieces into byte pieces (byte fallback) or merge runs of unknown pieces into one.
    func encode(_ text: UnsafeBufferPointer<UInt8>, into ids: inout [Int]) {
        let normalized = normalizer.normalize(text)
        if normalized.isEmpty { return }
        normalized.withUnsafeBufferPointer { buffer in
            let pieces = modelType == .bpe ? encodeBPE(buffer) : encodeUnigram(buffer)
            var previousIsUnknown = false
            for piece in pieces {
                let isUnknown = piece.id == unknownID
                if types[piece.id] == .control {
                    ids.append(piece.id)
                } else if isUnknown && byteFallback {
                    for index in piece.start..<piece.end { ids.append(Int(byteIDs[Int(buffer[index])])) }
                } else if !(isUnknown && previousIsUnknown) {
                    ids.append(piece.id)
                }
                previousIsUnknown = isUnknown
            }
        }
    }
}
