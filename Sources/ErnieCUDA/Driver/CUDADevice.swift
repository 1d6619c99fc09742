import CErnieCUDA

/// One GPU with its primary context retained and made current on the calling thread.
///
/// The backend uses a device from one thread; `makeCurrent()` must be called on any other thread before use.
public final class CUDADevice {
    let driver: CUDADriver
    let handle: ernie_CUdevice
    let context: ernie_CUcontext
    public let ordinal: Int
    public let name: String
    public let computeCapability: (major: Int, minor: Int)
    public let multiprocessorCount: Int
    public let maxSharedMemoryPerBlockOptin: Int
    public let l2CacheBytes: Int
    public let totalMemory: Int

    public init(ordinal: Int = 0, driver: CUDADriver? = nil) throws {
        let driver = try driver ?? { try CUDADriver.shared() }()
        let api = driver.api
        let count = try driver.deviceCount()
        guard count > 0 else { throw CUDAError.noDevice("cuDeviceGetCount returned 0") }
        guard ordinal >= 0, ordinal < count else {
            throw CUDAError.noDevice("device \(ordinal) requested but only \(count) visible")
        }
        var device: ernie_CUdevice = 0
        try api.check(api.cuDeviceGet(&device, Int32(ordinal)), "cuDeviceGet(\(ordinal))")
        var nameBuffer = [CChar](repeating: 0, count: 256)
        try api.check(api.cuDeviceGetName(&nameBuffer, 255, device), "cuDeviceGetName")
        func attribute(_ attribute: Int, _ label: String) throws -> Int {
            var value: Int32 = 0
            try api.check(api.cuDeviceGetAttribute(&value, Int32(attribute), device), "cuDeviceGetAttribute(\(label))")
            return Int(value)
        }
        let major = try attribute(Int(ERNIE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR), "COMPUTE_CAPABILITY_MAJOR")
        let minor = try attribute(Int(ERNIE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR), "COMPUTE_CAPABILITY_MINOR")
        multiprocessorCount = try attribute(Int(ERNIE_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT), "MULTIPROCESSOR_COUNT")
        maxSharedMemoryPerBlockOptin = try attribute(
            Int(ERNIE_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN), "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN"
        )
        l2CacheBytes = try attribute(Int(ERNIE_CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE), "L2_CACHE_SIZE")
        var total = 0
        try api.check(api.cuDeviceTotalMem(&total, device), "cuDeviceTotalMem_v2")
        var context: ernie_CUcontext?
        try api.check(api.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain")
        guard let context else { throw CUDAError.noDevice("cuDevicePrimaryCtxRetain returned no context") }
        if let error = Self.setCurrent(api: api, context: context) {
            _ = api.cuDevicePrimaryCtxRelease(device)
            throw error
        }
        self.driver = driver
        self.handle = device
        self.context = context
        self.ordinal = ordinal
        self.name = String(decoding: nameBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.computeCapability = (major, minor)
        self.totalMemory = total
    }

    deinit {
        _ = driver.api.cuDevicePrimaryCtxRelease(handle)
    }

    private static func setCurrent(api: DriverAPI, context: ernie_CUcontext) -> CUDAError? {
        let result = api.cuCtxSetCurrent(context)
        return result == 0 ? nil : api.error(result, "cuCtxSetCurrent")
    }

    var api: DriverAPI { driver.api }

    /// Makes this device's primary context current on the calling thread.
    public func makeCurrent() throws {
        try api.check(api.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    }

    /// Makes this device's context current on other threads (work handed to a thread pool); valid while the device
    /// lives.
    var contextBinder: ContextBinder { ContextBinder(api: api, context: context) }

    /// Free and total device memory (`cuMemGetInfo_v2`).
    public func memoryInfo() throws -> (free: Int, total: Int) {
        var free = 0
        var total = 0
        try api.check(api.cuMemGetInfo(&free, &total), "cuMemGetInfo_v2")
        return (free, total)
    }

    /// Waits for all work on the device.
    public func synchronize() throws {
        try api.check(api.cuCtxSynchronize(), "cuCtxSynchronize")
    }

    /// The NVRTC target for this device: `sm_90a` on compute capability 9.0 (wgmma needs the `a` variant), else
    /// `sm_<major><minor>`.
    public var architecture: String {
        Self.architecture(major: computeCapability.major, minor: computeCapability.minor)
    }

    public static func architecture(major: Int, minor: Int) -> String {
        major == 9 && minor == 0 ? "sm_90a" : "sm_\(major)\(minor)"
    }

    /// "NVIDIA H200 (sm_90a, 132 SMs, 139.8 GiB)".
    public var summary: String {
        "\(name) (\(architecture), \(multiprocessorCount) SMs, \(CUDAError.formatBytes(totalMemory)))"
    }
}

/// A device's context, to be made current on a worker thread (`CUDADevice.contextBinder`).
struct ContextBinder: @unchecked Sendable {
    // @unchecked: a context handle may be made current on any thread (cuCtxSetCurrent is per thread), and the driver
    // API table is immutable; the device that owns the context outlives the work that uses this.
    let api: DriverAPI
    let context: ernie_CUcontext

    /// Makes the context current on the calling thread; false if the driver refused.
    func bind() -> Bool { api.cuCtxSetCurrent(context) == 0 }
}
