/// Float32 memory owned by one tensor or weight.
final class FloatStorage {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }
}

/// A row-major `[rows, cols]` float32 activation of the CPU backend.
public final class CPUTensor {
    public let rows: Int
    public let cols: Int
    let storage: FloatStorage

    init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        storage = FloatStorage(count: rows * cols)
    }

    var data: UnsafeMutablePointer<Float> { storage.pointer }

    /// A copy of the elements.
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: rows * cols)) }
}

/// A float32 weight of the CPU backend: a matrix `[rows, cols]` or a vector (`cols == 1`, `isVector`).
public final class CPUWeight {
    public let rows: Int
    public let cols: Int
    public let isVector: Bool
    let storage: FloatStorage

    init(rows: Int, cols: Int, isVector: Bool) {
        self.rows = rows
        self.cols = cols
        self.isVector = isVector
        storage = FloatStorage(count: rows * cols)
    }

    var data: UnsafeMutablePointer<Float> { storage.pointer }
    var count: Int { rows * cols }
}

/// A pointer that crosses into the worker closures of `Parallel.run`.
///
/// @unchecked Sendable: the pointee is owned by a tensor that outlives the parallel call (which blocks until every
/// worker returns), and workers write disjoint ranges, so no two threads ever touch the same element concurrently.
struct SharedPointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>

    init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    init(_ base: UnsafePointer<T>) { self.base = UnsafeMutablePointer(mutating: base) }
}
