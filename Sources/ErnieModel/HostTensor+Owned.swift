/// Heap bytes owned by a `HostTensor` that is not a view into a mapped file.
public final class HostBuffer {
    public let bytes: UnsafeMutableRawBufferPointer

    public init(byteCount: Int) {
        bytes = .allocate(byteCount: max(byteCount, 1), alignment: 64)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { bytes.deallocate() }
}

extension HostTensor {
    /// A float32 tensor holding a copy of `values`.
    public static func float32(name: String, shape: [Int], values: [Float]) -> HostTensor {
        let buffer = HostBuffer(byteCount: values.count * 4)
        values.withUnsafeBytes { buffer.bytes.copyMemory(from: $0) }
        return HostTensor(
            name: name, dtype: .float32, shape: shape,
            bytes: UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<values.count * 4]), owner: buffer
        )
    }

    /// A float32 tensor with every element equal to `value`.
    public static func filled(name: String, shape: [Int], value: Float) -> HostTensor {
        float32(name: name, shape: shape, values: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// The same bytes viewed with another shape of the same element count (callers check the counts agree; a
    /// shape with another count is a programming error and traps).
    public func reshaped(_ newShape: [Int]) -> HostTensor {
        precondition(newShape.reduce(1, *) == elementCount, "reshape of '\(name)' must keep the element count")
        return HostTensor(name: name, dtype: dtype, shape: newShape, bytes: bytes, owner: owner)
    }

    /// Widens all elements to float32 into `destination` (which holds at least `elementCount` floats).
    public func copyFloats(into destination: UnsafeMutablePointer<Float>) {
        let n = elementCount
        guard n > 0, let base = bytes.baseAddress else { return }
        switch dtype {
        case .float32:
            UnsafeMutableRawPointer(destination).copyMemory(from: base, byteCount: n * 4)
        case .bfloat16:
            for i in 0..<n {
                let bits = bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                destination[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .float16:
            for i in 0..<n {
                let bits = bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                destination[i] = Float(Float16(bitPattern: bits))
            }
        }
    }
}
