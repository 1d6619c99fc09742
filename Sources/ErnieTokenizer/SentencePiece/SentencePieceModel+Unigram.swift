extension SentencePieceModel {
    /// The unknown-piece penalty of sentencepiece's unigram model (`kUnkPenalty`).
    private static let unknownPenalty: Float = 10

    /// sentencepiece's unigram `Model::EncodeOptimized`: Viterbi over all pieces starting at each character, keeping
    /// the best path ending at every byte position. Scores are accumulated in single precision (checked against the
    /// installed sentencepiece 0.2.3: double-precision accumulation picks a different path on exact ties), and ties
    /// keep the first candidate found, so the chosen path is identical.
    func encodeUnigram(_ text: UnsafeBufferPointer<UInt8>) -> [EncodedPiece] {
        let size = text.count
        var bestScores = [Float](repeating: 0, count: size + 1)
        var startsAt = [Int32](repeating: -1, count: size + 1)
        var bestIDs = [Int32](repeating: -1, count: size + 1)
        let unknownScore = minScore - SentencePieceModel.unknownPenalty
        var start = 0
        while start < size {
            let scoreHere = bestScores[start]
            let characterLength = min(UTF8Decoding.sentencePieceCharLength(text[start]), size - start)
            var hasSingleCharacterPiece = false
            var node = ByteTrie.root
            var key = start
            while key < size {
                node = pieceTrie.child(node, text[key])
                if node < 0 { break }
                key += 1
                let id = pieceTrie.value(node)
                if id < 0 || types[Int(id)] == .unused { continue }
                let length = key - start
                // User-defined symbols get a bonus so that they are always chosen.
                let score: Float =
                    types[Int(id)] == .userDefined
                    ? Float(Double(Float(length) * maxScore) - 0.1) : scores[Int(id)]
                let candidate = score + scoreHere
                if startsAt[key] == -1 || candidate > bestScores[key] {
                    bestScores[key] = candidate
                    startsAt[key] = Int32(start)
                    bestIDs[key] = id
                }
                if length == characterLength { hasSingleCharacterPiece = true }
            }
            if !hasSingleCharacterPiece {
                let target = start + characterLength
                let candidate = unknownScore + scoreHere
                if startsAt[target] == -1 || candidate > bestScores[target] {
                    bestScores[target] = candidate
                    startsAt[target] = Int32(start)
                    bestIDs[target] = Int32(unknownID)
                }
            }
            start += characterLength
        }
        var output: [EncodedPiece] = []
        var end = size
        while end > 0 {
            let begin = Int(startsAt[end])
            guard begin >= 0 && begin < end else { break }
            output.append(EncodedPiece(start: begin, end: end, id: Int(bestIDs[end])))
            end = begin
        }
        output.reverse()
        return output
    }
}
