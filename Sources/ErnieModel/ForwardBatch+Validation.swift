extension ForwardBatch {
    /// Checks that the batch is self-consistent and fits the model and the KV cache, so no backend ever reads or
    /// writes out of bounds: token ids below `vocabSize`; sequences that tile `tokens` exactly; pages that exist
    /// and cover every position; no two tokens of the step writing the same KV slot.
    public func validate(vocabSize: Int, layout: KVCacheLayout) throws {
        guard pageSize == layout.pageSize else {
            throw ModelError.invalidBatch("page size \(pageSize) differs from the KV cache's \(layout.pageSize)")
        }
        for (i, t) in tokens.enumerated() where t < 0 || Int(t) >= vocabSize {
            throw ModelError.invalidBatch("token \(t) at index \(i) is outside the vocabulary (0..<\(vocabSize))")
        }
        var owner = [Bool](repeating: false, count: tokens.count)
        var covered = 0
        var written = Set<Int32>()
        written.reserveCapacity(tokens.count)
        for (s, seq) in sequences.enumerated() {
            guard seq.tokenCount > 0, seq.tokenOffset >= 0, seq.tokenOffset <= tokens.count,
                  seq.tokenCount <= tokens.count - seq.tokenOffset
            else {
                throw ModelError.invalidBatch(
                    "sequence \(s) has \(seq.tokenCount) tokens from offset \(seq.tokenOffset); the batch has \(tokens.count)"
                )
            }
            guard seq.startPosition >= 0, seq.startPosition <= 1 << 40 else {
                throw ModelError.invalidBatch("sequence \(s) starts at invalid position \(seq.startPosition)")
            }
            guard seq.endPosition <= seq.pages.count * pageSize else {
                throw ModelError.invalidBatch(
                    "sequence \(s) reaches position \(seq.endPosition) but its \(seq.pages.count) pages hold "
                        + "\(seq.pages.count * pageSize)"
                )
            }
            let neededPages = (seq.endPosition + pageSize - 1) / pageSize
            for page in seq.pages.prefix(neededPages) where page < 0 || Int(page) >= layout.numPages {
                throw ModelError.invalidBatch("sequence \(s) uses page \(page); the cache has \(layout.numPages)")
            }
            for j in 0..<seq.tokenCount {
                let index = seq.tokenOffset + j
                guard !owner[index] else { throw ModelError.invalidBatch("token \(index) belongs to two sequences") }
                owner[index] = true
                let p = seq.startPosition + j
                let slot = seq.pages[p / pageSize] * Int32(pageSize) + Int32(p % pageSize)
                guard written.insert(slot).inserted else {
                    throw ModelError.invalidBatch("two tokens of the step write KV slot \(slot)")
                }
            }
            covered += seq.tokenCount
        }
        guard covered == tokens.count else {
            throw ModelError.invalidBatch("sequences cover \(covered) of \(tokens.count) tokens")
        }
    }
}
