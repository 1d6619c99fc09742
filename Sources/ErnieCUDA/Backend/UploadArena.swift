/// Small host → device uploads inside a step (indices, expert permutations, sampling parameters).
///
/// Each upload is copied into page-locked memory and queued as an asynchronous copy into a device region taken
/// from a bump allocator. Regions are reused only after `recycle()`, which the backend calls right after it has
/// waited for the stream (so every earlier copy and kernel has finished). When full, the arena waits for the stream
/// itself and starts over; a single upload larger than the arena grows it.
final class UploadArena {
    let device: CUDADevice
    let stream: CUDAStream
    private var host: PinnedHostBuffer
    private var deviceBuffer: DeviceBuffer
    private var used = 0

    init(device: CUDADevice, stream: CUDAStream, capacity: Int = 8 << 20) throws {
        self.device = device
        self.stream = stream
        host = try PinnedHostBuffer(device: device, byteCount: capacity, label: "upload staging")
        deviceBuffer = try DeviceBuffer(device: device, byteCount: capacity, label: "upload arena")
    }

    var capacity: Int { deviceBuffer.byteCount }

    /// Marks every region free. Only call when the stream is idle.
    func recycle() { used = 0 }

    /// Uploads `values` and returns their device address (16-byte aligned).
    func upload<T>(_ values: [T]) throws -> UInt64 {
        let bytes = values.count * MemoryLayout<T>.stride
        let size = max(16, (bytes + 15) / 16 * 16)
        if used + size > capacity {
            try stream.synchronize()
            used = 0
            if size > capacity {
                let grown = max(size, capacity * 2)
                host = try PinnedHostBuffer(device: device, byteCount: grown, label: "upload staging")
                deviceBuffer = try DeviceBuffer(device: device, byteCount: grown, label: "upload arena")
            }
        }
        let offset = used
        used += size
        values.withUnsafeBytes { raw in
            if let base = raw.baseAddress { (host.pointer + offset).copyMemory(from: base, byteCount: bytes) }
        }
        let address = deviceBuffer.address + UInt64(offset)
        try stream.copy(toDevice: address, from: host.pointer + offset, byteCount: bytes)
        return address
    }
}
