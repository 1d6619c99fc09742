/// Element types the CUDA backend stores.
public enum CUDAElementType: Sendable, Equatable {
    case bfloat16
    case float32
    case int32

    public var byteSize: Int { self == .bfloat16 ? 2 : 4 }
}

/// A 2-D row-major activation `[rows, columns]` in device memory, valid until the step ends (its buffer returns to
/// the backend's pool when the last reference goes away).
public final class CUDATensor {
    let buffer: PooledBuffer
    public let rows: Int
    public let columns: Int
    public let elementType: CUDAElementType

    init(buffer: PooledBuffer, rows: Int, columns: Int, elementType: CUDAElementType) {
        self.buffer = buffer
        self.rows = rows
        self.columns = columns
        self.elementType = elementType
    }

    /// Device address of element (0, 0).
    public var address: UInt64 { buffer.address }
    /// Device address of row `row`.
    func address(row: Int) -> UInt64 { buffer.address + UInt64(row * columns * elementType.byteSize) }
    public var byteCount: Int { rows * columns * elementType.byteSize }
}

/// A weight in device memory: a matrix `[rows, columns]` (PyTorch `[out, in]`) or a vector (`rows == 1`).
public final class CUDAWeight {
    let buffer: DeviceBuffer
    /// The shape the weight was created with.
    public let shape: [Int]
    public let elementType: CUDAElementType
    public let name: String

    init(buffer: DeviceBuffer, shape: [Int], elementType: CUDAElementType, name: String) {
        self.buffer = buffer
        self.shape = shape
        self.elementType = elementType
        self.name = name
    }

    public var address: UInt64 { buffer.address }
    /// Rows of the matrix view (1 for a vector).
    public var rows: Int { shape.count >= 2 ? shape[0] : 1 }
    /// Columns of the matrix view (the length for a vector).
    public var columns: Int { shape.count >= 2 ? shape.dropFirst().reduce(1, *) : (shape.first ?? 1) }
    public var elementCount: Int { shape.reduce(1, *) }
}
