import Dispatch

extension HostTensor {
    /// The pieces of `slice` of this tensor, in order, for `Backend.makeWeight(concatenatingRows:)`: row blocks
    /// (views; copies when only some columns are kept), then zero rows up to `slice.paddedRows`. Empty blocks are
    /// left out.
    func pieces(_ slice: TensorSlice) throws -> [HostTensor] {
        let (rows, columns) = matrixShape
        var out: [HostTensor] = []
        var kept = 0
        for range in slice.rowRanges ?? [0..<rows] where !range.isEmpty {
            var piece = try self.rows(range)
            if let c = slice.columns, c != 0..<columns { piece = try piece.columns(c) }
            out.append(piece)
            kept += range.count
        }
        if let padded = slice.paddedRows, padded > kept {
            let width = slice.columns?.count ?? columns
            let shape = self.shape.count == 1 ? [padded - kept] : [padded - kept, width]
            out.append(.zeros(name: name + " (padding)", shape: shape, dtype: dtype))
        }
        return out
    }
}

extension TensorSlice {
    /// The same slice with adjacent row ranges merged (so a run of whole experts is one block).
    var merged: TensorSlice {
        guard let ranges = rowRanges else { return self }
        var out: [Range<Int>] = []
        for r in ranges where !r.isEmpty {
            if let last = out.last, last.upperBound == r.lowerBound {
                out[out.count - 1] = last.lowerBound..<r.upperBound
            } else {
                out.append(r)
            }
        }
        var copy = self
        copy.rowRanges = out
        return copy
    }
}

extension DummyWeights {
    /// The seed whose element `i` equals element `i + elements` of `seed` (`value` depends on `seed + (i+1)·φ`).
    public static func seed(_ seed: UInt64, advancedBy elements: UInt64) -> UInt64 {
        seed &+ elements &* 0x9E37_79B9_7F4A_7C15
    }

    /// `slice` of the dummy tensor of `shape` and `seed`, generated on the host as float32 pieces (the GPU rounds
    /// them to bf16 exactly as its random-weight kernel does).
    static func hostSlice(
        name: String, seed: UInt64, scale: Float, shape: [Int], slice: TensorSlice
    ) -> [HostTensor] {
        let columns = shape.count == 1 ? 1 : shape.dropFirst().reduce(1, *)
        let kept = slice.columns ?? 0..<columns
        var out: [HostTensor] = []
        var rows = 0
        for range in slice.rowRanges ?? [0..<(shape.first ?? 0)] where !range.isEmpty {
            let count = range.count * kept.count
            let buffer = HostBuffer(byteCount: count * 4)
            let destination = FillPointer(buffer.bytes.baseAddress!.assumingMemoryBound(to: Float.self))
            let blockRows = max(1, (1 << 16) / max(kept.count, 1))
            let blocks = (range.count + blockRows - 1) / blockRows
            DispatchQueue.concurrentPerform(iterations: blocks) { block in
                let first = block * blockRows
                for r in first..<min(first + blockRows, range.count) {
                    let base = UInt64((range.lowerBound + r) * columns + kept.lowerBound)
                    let row = destination.base + r * kept.count
                    for c in 0..<kept.count {
                        row[c] = value(seed: seed, index: base + UInt64(c), scale: scale)
                    }
                }
            }
            out.append(HostTensor(
                name: name, dtype: .float32, shape: shape.count == 1 ? [range.count] : [range.count, kept.count],
                bytes: UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<(count * 4)]), owner: buffer))
            rows += range.count
        }
        if let padded = slice.paddedRows, padded > rows {
            let padShape = shape.count == 1 ? [padded - rows] : [padded - rows, kept.count]
            out.append(.zeros(name: name + " (padding)", shape: padShape, dtype: .float32))
        }
        return out
    }
}

/// The destination of `hostSlice`'s parallel fill.
///
/// @unchecked Sendable: the buffer outlives `concurrentPerform` (which returns only when every block is done) and
/// each block writes its own rows, so no element is touched by two threads.
private struct FillPointer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    init(_ base: UnsafeMutablePointer<Float>) { self.base = base }
}
