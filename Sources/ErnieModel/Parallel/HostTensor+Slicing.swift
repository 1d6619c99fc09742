/// Row and column pieces of host tensors, for loading one rank's shard of a weight.
extension HostTensor {
    /// Rows and columns of the tensor viewed as a matrix (`[n]` is n rows of one column).
    var matrixShape: (rows: Int, columns: Int) {
        shape.count == 1 ? (shape[0], 1) : (shape.first ?? 0, shape.dropFirst().reduce(1, *))
    }

    /// Rows `range` (elements, for a vector), sharing this tensor's memory.
    public func rows(_ range: Range<Int>) throws -> HostTensor {
        let (rows, columns) = matrixShape
        guard range.lowerBound >= 0, range.upperBound <= rows else {
            throw ModelError.backend("rows \(range) of tensor '\(name)' \(shape) are out of bounds")
        }
        let rowBytes = columns * dtype.byteSize
        let bytes = UnsafeRawBufferPointer(
            rebasing: self.bytes[(range.lowerBound * rowBytes)..<(range.upperBound * rowBytes)])
        let newShape = shape.count == 1 ? [range.count] : [range.count] + shape.dropFirst()
        return HostTensor(name: name, dtype: dtype, shape: newShape, bytes: bytes, owner: owner)
    }

    /// Columns `range` of a 2-D tensor, copied into a new tensor of the same element type.
    public func columns(_ range: Range<Int>) throws -> HostTensor {
        guard shape.count == 2 else {
            throw ModelError.backend("column slice of tensor '\(name)' \(shape), which is not a matrix")
        }
        let (rows, columns) = (shape[0], shape[1])
        guard range.lowerBound >= 0, range.upperBound <= columns else {
            throw ModelError.backend("columns \(range) of tensor '\(name)' \(shape) are out of bounds")
        }
        let size = dtype.byteSize
        let buffer = HostBuffer(byteCount: rows * range.count * size)
        let piece = range.count * size
        if piece > 0, let source = bytes.baseAddress, let destination = buffer.bytes.baseAddress {
            for r in 0..<rows {
                (destination + r * piece).copyMemory(
                    from: source + (r * columns + range.lowerBound) * size, byteCount: piece)
            }
        }
        return HostTensor(
            name: name, dtype: dtype, shape: [rows, range.count],
            bytes: UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<(rows * piece)]), owner: buffer)
    }

    /// A zero tensor of `shape` and `dtype`.
    public static func zeros(name: String, shape: [Int], dtype: DType) -> HostTensor {
        let count = shape.reduce(1, *)
        let buffer = HostBuffer(byteCount: count * dtype.byteSize)
        return HostTensor(
            name: name, dtype: dtype, shape: shape,
            bytes: UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<(count * dtype.byteSize)]), owner: buffer)
    }
}
