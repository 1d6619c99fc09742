extension HFBPEModel {
    /// Appends the ids of one pre-tokenized word (UTF-8).
    func tokenize(_ word: [UInt8], into ids: inout [Int]) {
        if word.isEmpty { return }
        if ignoreMerges, let id = vocabulary.lookup(word) {
            ids.append(Int(id))
            return
        }
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        var pendingUnknown = false
        word.withUnsafeBufferPointer { bytes in
            var start = 0
            while start < bytes.count {
                var end = start + 1
                while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }
                let isFirst = start == 0
                let isLast = end == bytes.count
                var piece: [UInt8] = []
                if !isFirst, let prefix = continuingSubwordPrefix { piece += prefix }
                piece += bytes[start..<end]
                if isLast, let suffix = endOfWordSuffix { piece += suffix }
                start = end
                if let id = vocabulary.lookup(piece) {
                    if pendingUnknown, let unknownID {
                        symbols.append(Int32(unknownID))
                        pendingUnknown = false
                    }
                    symbols.append(id)
                    continue
                }
                if byteFallback && piece.allSatisfy({ byteIDs[Int($0)] >= 0 }) {
                    // As in the tokenizers library, a pending unknown token is not flushed here.
                    for byte in piece { symbols.append(byteIDs[Int(byte)]) }
                    continue
                }
                guard let unknownID else { continue }
                if pendingUnknown && !fuseUnknown { symbols.append(Int32(unknownID)) }
                pendingUnknown = true
            }
        }
        if pendingUnknown, let unknownID { symbols.append(Int32(unknownID)) }
        mergeAll(&symbols)
        for symbol in symbols { ids.append(Int(symbol)) }
    }

    /// `Word::merge_all`: apply merges by rank (then position) until none applies.
    private func mergeAll(_ symbols: inout [Int32]) {
        let count = symbols.count
        if count < 2 { return }
        var ids = symbols
        var alive = [Bool](repeating: true, count: count)
        var previous = (0..<count).map { $0 - 1 }
        var next = (0..<count).map { $0 + 1 < count ? $0 + 1 : -1 }
        var queue = PriorityQueue(capacity: count)

        func push(_ position: Int, _ merge: UInt64) {
            // Max-heap: invert (rank, position) so the lowest rank, then the lowest position, comes first.
            let rank = merge >> 32
            queue.push(priority: ~(rank << 32 | UInt64(position)), payload: merge & 0xFFFF_FFFF)
        }
        func pair(_ left: Int32, _ right: Int32) -> UInt64 { UInt64(UInt32(left)) << 32 | UInt64(UInt32(right)) }

        for position in 0..<(count - 1) {
            if let merge = merges[pair(ids[position], ids[position + 1])] { push(position, merge) }
        }
        while let top = queue.pop() {
            let position = Int(~top.priority & 0xFFFF_FFFF)
            let newID = Int32(truncatingIfNeeded: top.payload)
            if !alive[position] || next[position] < 0 { continue }
            let right = next[position]
            guard let current = merges[pair(ids[position], ids[right])], Int32(truncatingIfNeeded: current) == newID
            else { continue }
            ids[position] = newID
            alive[right] = false
            next[position] = next[right]
            if next[right] >= 0 { previous[next[right]] = position }
            if previous[position] >= 0, let merge = merges[pair(ids[previous[position]], newID)] {
                push(previous[position], merge)
            }
            if next[position] >= 0, let merge = merges[pair(newID, ids[next[position]])] {
                push(position, merge)
            }
        }
        symbols = (0..<count).filter { alive[$0] }.map { ids[$0] }
    }
}
