import ErnieModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Float32 memory owned by one tensor or weight, zero-initialised.
///
/// Long-lived buffers (weights, the KV cache) of 2 MiB and more are 2 MiB-aligned and advised to use transparent huge
/// pages: streaming a weight matrix through 4 KiB pages costs a TLB miss every 1024 floats, which halves the decode
/// matrix-vector speed. Per-step activations use ordinary allocations (fresh huge pages would be cleared by the
/// kernel on every step).
final class FloatStorage {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    static let hugePageBytes = 2 << 20

    init(count: Int, longLived: Bool = false) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let alignment = longLived && bytes >= Self.hugePageBytes ? Self.hugePageBytes : 64
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: alignment)
        #if os(Linux)
        if alignment == Self.hugePageBytes {
            _ = madvise(raw, bytes, 14)  // MADV_HUGEPAGE; advisory, failure is harmless
        }
        #endif
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
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
        storage = FloatStorage(count: rows * cols, longLived: true)
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

extension CPUBackend {
    /// A `[rows, cols]` activation holding `values` (tests and tools).
    public func tensor(rows: Int, cols: Int, values: [Float]) throws -> CPUTensor {
        guard rows >= 0, cols >= 0, values.count == rows * cols else {
            throw ModelError.backend("tensor(rows: \(rows), cols: \(cols)) given \(values.count) values")
        }
        let t = CPUTensor(rows: rows, cols: cols)
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { t.data.update(from: base, count: values.count) }
        }
        return t
    }
}
