import CErnieCUDA

/// An owned device allocation (`cuMemAlloc_v2`), freed when the last reference goes away.
public final class DeviceBuffer {
    let device: CUDADevice
    /// The device address.
    public let address: UInt64
    public let byteCount: Int
    /// What the allocation is for (error messages).
    public let label: String

    /// Allocates `byteCount` bytes (at least 1); on failure throws `outOfMemory` naming `label`.
    public init(device: CUDADevice, byteCount: Int, label: String) throws {
        guard byteCount >= 0 else { throw CUDAError.invalidArgument("negative allocation size for \(label)") }
        let api = device.api
        var address: ernie_CUdeviceptr = 0
        let result = api.cuMemAlloc(&address, max(byteCount, 1))
        if result == 2 {
            let info = try? device.memoryInfo()
            throw CUDAError.outOfMemory(what: label, bytes: byteCount, freeBytes: info?.free, totalBytes: info?.total)
        }
        try api.check(result, "cuMemAlloc_v2(\(byteCount) bytes for \(label))")
        self.device = device
        self.address = address
        self.byteCount = byteCount
        self.label = label
    }

    deinit {
        _ = device.api.cuMemFree(address)
    }
}

/// Page-locked host memory (`cuMemAllocHost_v2`) for asynchronous copies.
final class PinnedHostBuffer {
    let device: CUDADevice
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    init(device: CUDADevice, byteCount: Int, label: String) throws {
        var pointer: UnsafeMutableRawPointer?
        try device.api.check(device.api.cuMemAllocHost(&pointer, max(byteCount, 1)), "cuMemAllocHost_v2(\(label))")
        guard let pointer else { throw CUDAError.invalidArgument("cuMemAllocHost_v2 returned NULL for \(label)") }
        self.device = device
        self.pointer = pointer
        self.byteCount = byteCount
    }

    deinit {
        _ = device.api.cuMemFreeHost(pointer)
    }
}
