extension SentencePieceModel {
    /// sentencepiece's BPE `Model::Encode`: start from characters (user-defined symbols whole and frozen), repeatedly
    /// merge the adjacent pair whose concatenation is a piece with the highest score (ties: leftmost), then split
    /// merged pieces of type UNUSED back into the pairs that formed them. A heap of candidate pairs plus a linked list
    /// of symbols makes it O(n log n).
    func encodeBPE(_ text: UnsafeBufferPointer<UInt8>) -> [EncodedPiece] {
        let size = text.count
        var starts: [Int32] = []
        var lengths: [Int32] = []
        var frozen: [Bool] = []
        starts.reserveCapacity(size)
        lengths.reserveCapacity(size)
        frozen.reserveCapacity(size)
        let userDefined = normalizer.userDefined
        var position = 0
        while position < size {
            var length = min(size - position, UTF8Decoding.sentencePieceCharLength(text[position]))
            var isFrozen = false
            if !userDefined.isEmpty, let match = userDefined.longestPrefix(text, from: position, to: size) {
                length = match.length
                isFrozen = true
            }
            starts.append(Int32(position))
            lengths.append(Int32(length))
            frozen.append(isFrozen)
            position += length
        }
        let count = starts.count
        if count == 0 { return [] }
        var previous = (0..<count).map { Int32($0) - 1 }
        var next = (0..<count).map { $0 + 1 < count ? Int32($0 + 1) : -1 }

        var agenda = PriorityQueue(capacity: count)
        // Merged pieces of type UNUSED: the (left, right) symbols they were last formed from (start, length each).
        var reverseMerges: [Int32: (Int32, Int32, Int32, Int32)] = [:]

        func addPair(_ left: Int32, _ right: Int32) {
            if left < 0 || right < 0 || frozen[Int(left)] || frozen[Int(right)] { return }
            let start = Int(starts[Int(left)])
            let length = Int(lengths[Int(left)] + lengths[Int(right)])
            guard let id = pieceTable.lookup(text, start..<(start + length)) else { return }
            let priority = UInt64(PriorityQueue.orderKey(scores[Int(id)])) << 32 | UInt64(UInt32.max - UInt32(left))
            agenda.push(priority: priority, payload: UInt64(UInt32(right)) << 32 | UInt64(length))
            if types[Int(id)] == .unused {
                reverseMerges[id] = (starts[Int(left)], lengths[Int(left)], starts[Int(right)], lengths[Int(right)])
            }
        }

        for index in 1..<max(count, 1) { addPair(Int32(index - 1), Int32(index)) }

        while let top = agenda.pop() {
            let left = Int(UInt32.max - UInt32(truncatingIfNeeded: top.priority))
            let right = Int(top.payload >> 32)
            let pairLength = Int32(truncatingIfNeeded: top.payload & 0xFFFF_FFFF)
            if lengths[left] == 0 || lengths[right] == 0 || lengths[left] + lengths[right] != pairLength { continue }
            lengths[left] += lengths[right]
            next[left] = next[right]
            if next[right] >= 0 { previous[Int(next[right])] = Int32(left) }
            lengths[right] = 0
            addPair(previous[left], Int32(left))
            addPair(Int32(left), next[left])
        }

        var output: [EncodedPiece] = []
        output.reserveCapacity(count)
        func resegment(_ start: Int32, _ length: Int32) {
            let range = Int(start)..<Int(start + length)
            let id = pieceID(text, range)
            if types[id] == .unused, let (leftStart, leftLength, rightStart, rightLength) = reverseMerges[Int32(id)] {
                resegment(leftStart, leftLength)
                resegment(rightStart, rightLength)
            } else {
                output.append(EncodedPiece(start: range.lowerBound, end: range.upperBound, id: id))
            }
        }
        var index: Int32 = 0
        while index >= 0 {
            resegment(starts[Int(index)], lengths[Int(index)])
            index = next[Int(index)]
        }
        return output
    }
}
