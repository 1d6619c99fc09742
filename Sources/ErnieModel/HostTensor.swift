/// Element types of checkpoint tensors.
public enum DType: String, Sendable, Equatable {
    case bfloat16 = "BF16"
    case float16 = "F16"
    case float32 = "F32"

    public var byteSize: Int {
        switch self {
        case .bfloat16, .float16: 2
        case .float32: 4
        }
    }
}

/// A tensor in host memory, usually a view into a memory-mapped safetensors file.
///
/// `owner` keeps the mapping alive for as long as the tensor is referenced.
public struct HostTensor: @unchecked Sendable {
    // @unchecked: `bytes` points into memory owned by `owner`, which is immutable (a read-only mapping or a frozen
    // buffer) and outlives every copy of this value, so sharing it across threads is safe.
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let bytes: UnsafeRawBufferPointer
    public let owner: AnyObject

    public init(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.owner = owner
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// Element `i` widened to Float.
    @inlinable
    public func float(at i: Int) -> Float {
        switch dtype {
        case .float32:
            return bytes.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        case .bfloat16:
            let bits = bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
            return Float(bitPattern: UInt32(bits) << 16)
        case .float16:
            let bits = bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
            return Float(Float16(bitPattern: bits))
        }
    }

    /// All elements widened to Float.
    public func toFloats() -> [Float] {
        (0..<elementCount).map { float(at: $0) }
    }
}
