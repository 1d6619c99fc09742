import ErnieModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Zero-initialised memory of `count` elements owned by one tensor or weight.
///
/// Long-lived buffers (weights, the KV cache) of 2 MiB and more are 2 MiB-aligned and advised to use transparent huge
/// pages: streaming a weight matrix through 4 KiB pages costs a TLB miss every 4 KiB, which halves the decode
/// matrix-vector speed. Per-step activations use ordinary allocations (fresh huge pages would be cleared by the
/// kernel on every step).
final class Storage<Element> {
    let pointer: UnsafeMutablePointer<Element>
    let count: Int

    static var hugePageBytes: Int { 2 << 20 }

    init(count: Int, longLived: Bool = false) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Element>.stride
        let alignment = longLived && bytes >= Self.hugePageBytes ? Self.hugePageBytes : 64
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: alignment)
        #if os(Linux)
        if alignment == Self.hugePageBytes {
            _ = madvise(raw, bytes, 14)  // MADV_HUGEPAGE; advisory, failure is harmless
        }
        #endif
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        pointer = raw.bindMemory(to: Element.self, capacity: max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}

/// Float32 storage (activations, the KV cache, float32 weights).
typealias FloatStorage = Storage<Float>

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

/// A weight of the CPU backend: a matrix `[rows, cols]` or a vector (`cols == 1`, `isVector`).
///
/// Matrices that the checkpoint holds in bfloat16 stay bfloat16 (`Elements.bfloat16`; the GEMM kernels widen them
/// exactly as they load); everything else — float32 and float16 checkpoints, vectors, the float32-precision router —
/// is float32.
public final class CPUWeight {
    public let rows: Int
    public let cols: Int
    public let isVector: Bool
    let elements: Elements

    enum Elements {
        case float32(Storage<Float>)
        case bfloat16(Storage<BFloat16>)
    }

    /// `rows · cols` elements of storage, zeroed: bfloat16 or float32.
    convenience init(rows: Int, cols: Int, isVector: Bool, bfloat16: Bool) {
        let count = rows * cols
        self.init(rows: rows, cols: cols, isVector: isVector,
                  elements: bfloat16 ? .bfloat16(Storage(count: count, longLived: true))
                      : .float32(Storage(count: count, longLived: true)))
    }

    /// A weight over `elements`, which hold `rows · cols` elements.
    init(rows: Int, cols: Int, isVector: Bool, elements: Elements) {
        self.rows = rows
        self.cols = cols
        self.isVector = isVector
        self.elements = elements
    }

    var count: Int { rows * cols }

    /// Bytes per element in memory: 4, or 2 for bfloat16.
    var elementBytes: Int {
        switch elements {
        case .float32: 4
        case .bfloat16: 2
        }
    }

    /// Runs `body` on the elements as float32: in place for float32 weights, on a widened copy for bfloat16 ones
    /// (vectors are always float32, so the per-step users — norms, biases — never copy).
    func withFloats<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        switch elements {
        case .float32(let storage):
            return try body(storage.pointer)
        case .bfloat16(let storage):
            let widened = Storage<Float>(count: count)
            for i in 0..<count { widened.pointer[i] = BFloat16.wide(storage.pointer, i) }
            return try body(widened.pointer)
        }
    }

    /// Copies row `row` (float32) to `destination`.
    func copyRow(_ row: Int, to destination: UnsafeMutablePointer<Float>) {
        switch elements {
        case .float32(let storage):
            destination.update(from: storage.pointer + row * cols, count: cols)
        case .bfloat16(let storage):
            let source = storage.pointer + row * cols
            for i in 0..<cols { destination[i] = BFloat16.wide(source, i) }
        }
    }
}

/// `body` on `weight`'s elements as float32 (`CPUWeight.withFloats`), or on nil when there is no weight.
func withFloats<R>(_ weight: CPUWeight?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
    guard let weight else { return try body(nil) }
    return try weight.withFloats { try body($0) }
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
