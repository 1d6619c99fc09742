/// Device buffers for activations, reused across ops and steps so a steady-state step allocates nothing.
///
/// A request for `rows × rowBytes` is served from a size class of `capacityRows(rows) × rowBytes` bytes (rows rounded
/// up to a power of two, at least 16), so steps with different token counts share buffers. Buffers return to their
/// class's free list when the tensor using them is released; reuse is LIFO, so the same sequence of ops gets the same
/// addresses every step (what CUDA-graph capture needs).
final class ActivationPool {
    let device: CUDADevice
    private var free: [Int: [DeviceBuffer]] = [:]
    /// Bytes held in all classes (in use or free).
    private(set) var reservedBytes = 0

    init(device: CUDADevice) {
        self.device = device
    }

    static func capacityRows(_ rows: Int) -> Int {
        var capacity = 16
        while capacity < rows { capacity *= 2 }
        return capacity
    }

    static func classBytes(rows: Int, rowBytes: Int) -> Int {
        let bytes = capacityRows(rows) * rowBytes
        return (bytes + 255) / 256 * 256
    }

    /// A buffer of at least `rows × rowBytes` bytes.
    func buffer(rows: Int, rowBytes: Int, label: @autoclosure () -> String) throws -> PooledBuffer {
        let size = Self.classBytes(rows: rows, rowBytes: rowBytes)
        if var list = free[size], let buffer = list.popLast() {
            free[size] = list
            return PooledBuffer(pool: self, buffer: buffer, classBytes: size)
        }
        let buffer = try DeviceBuffer(device: device, byteCount: size, label: "activation \(label())")
        reservedBytes += size
        return PooledBuffer(pool: self, buffer: buffer, classBytes: size)
    }

    fileprivate func giveBack(_ buffer: DeviceBuffer, classBytes: Int) {
        free[classBytes, default: []].append(buffer)
    }

    /// Frees every idle buffer (after a step with unusually large shapes).
    func trim() {
        for (size, list) in free { reservedBytes -= size * list.count }
        free.removeAll()
    }
}

/// A pool buffer on loan; returns to the pool when released.
final class PooledBuffer: DeviceStorage {
    private let pool: ActivationPool
    let buffer: DeviceBuffer
    let classBytes: Int

    fileprivate init(pool: ActivationPool, buffer: DeviceBuffer, classBytes: Int) {
        self.pool = pool
        self.buffer = buffer
        self.classBytes = classBytes
    }

    var address: UInt64 { buffer.address }

    deinit {
        pool.giveBack(buffer, classBytes: classBytes)
    }
}
