/// Element types the CUDA backend stores.
public enum CUDAElementType: Sendable, Equatable {
    case bfloat16
    case float32
    case int32

    public var byteSize: Int { self == .bfloat16 ? 2 : 4 }
}

/// Device memory an activation lives in (a pool buffer or an arena block); released with the last tensor using it.
protocol DeviceStorage: AnyObject {
    var address: UInt64 { get }
}

/// A 2-D row-major activation `[rows, columns]` in device memory, valid until the step ends (its storage returns to
/// the backend's pool or arena when the last reference goes away).
///
/// `launchRows ≥ rows` is how many rows kernels process: decode steps run through a CUDA graph are padded to the
/// graph's batch bucket, and every kernel of the step covers the padded rows (whose values are never read back).
public final class CUDATensor {
    let storage: any DeviceStorage
    public let rows: Int
    public let columns: Int
    public let elementType: CUDAElementType
    /// Rows the kernels of this step process (and the storage holds): `rows`, or the decode bucket.
    let launchRows: Int

    init(storage: any DeviceStorage, rows: Int, columns: Int, elementType: CUDAElementType, launchRows: Int? = nil) {
        self.storage = storage
        self.rows = rows
        self.columns = columns
        self.elementType = elementType
        self.launchRows = max(launchRows ?? rows, rows)
    }

    /// Device address of element (0, 0).
    public var address: UInt64 { storage.address }
    /// Device address of row `row`.
    func address(row: Int) -> UInt64 { storage.address + UInt64(row * columns * elementType.byteSize) }
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
