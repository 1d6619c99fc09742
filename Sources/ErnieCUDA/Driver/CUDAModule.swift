import CErnieCUDA
import Foundation

/// A loaded CUBIN (`cuModuleLoadData`) and the kernels resolved from it.
final class CUDAModule {
    let device: CUDADevice
    let handle: ernie_CUmodule
    let name: String

    init(device: CUDADevice, image: [UInt8], name: String) throws {
        var handle: ernie_CUmodule?
        let result = image.withUnsafeBytes { device.api.cuModuleLoadData(&handle, $0.baseAddress) }
        try device.api.check(result, "cuModuleLoadData(\(name), \(image.count) bytes)")
        guard let handle else { throw CUDAError.invalidArgument("cuModuleLoadData returned no module for \(name)") }
        self.device = device
        self.handle = handle
        self.name = name
    }

    deinit {
        _ = device.api.cuModuleUnload(handle)
    }

    func function(_ kernelName: String) throws -> CUDAFunction {
        var function: ernie_CUfunction?
        try device.api.check(
            device.api.cuModuleGetFunction(&function, handle, kernelName), "cuModuleGetFunction(\(name):\(kernelName))"
        )
        guard let function else { throw CUDAError.invalidArgument("kernel \(kernelName) not found in \(name)") }
        return CUDAFunction(module: self, handle: function, name: kernelName)
    }
}

/// One kernel of a loaded module.
final class CUDAFunction {
    let module: CUDAModule
    let handle: ernie_CUfunction
    let name: String
    /// Dynamic shared memory the function has been allowed (raised above the 48 KiB default on demand).
    private var allowedDynamicSharedMemory = 48 * 1024

    init(module: CUDAModule, handle: ernie_CUfunction, name: String) {
        self.module = module
        self.handle = handle
        self.name = name
    }

    private var api: DriverAPI { module.device.api }

    /// Queues the kernel on `stream`. Empty grids are skipped.
    ///
    /// - Parameters:
    ///   - programmatic: launch with programmatic stream serialisation (PDL): the kernel may start while the
    ///     previous one on the stream finishes; it must call `pdl_wait()` before reading that kernel's results.
    ///   - mayWait: whether `ERNIE_CUDA_SYNC=1` may wait after the launch (not while the stream is being captured).
    func launch(
        _ configuration: LaunchConfiguration, on stream: CUDAStream, _ arguments: KernelArguments,
        programmatic: Bool = false, mayWait: Bool = true
    )
        throws
    {
        try configuration.validate(kernel: name)
        if configuration.isEmpty { return }
        try allowDynamicSharedMemory(configuration.sharedMemoryBytes)
        let g = configuration.grid
        let b = configuration.block
        let api = self.api
        let handle = self.handle
        let name = self.name
        try arguments.withParameterArray { (params) in
            if programmatic {
                var attribute = ernie_CUlaunchAttribute()
                attribute.id = Int32(ERNIE_CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION)
                attribute.value.programmaticStreamSerializationAllowed = 1
                try withUnsafeMutablePointer(to: &attribute) { attributePointer in
                    var config = ernie_CUlaunchConfig()
                    config.gridDimX = UInt32(g.x)
                    config.gridDimY = UInt32(g.y)
                    config.gridDimZ = UInt32(g.z)
                    config.blockDimX = UInt32(b.x)
                    config.blockDimY = UInt32(b.y)
                    config.blockDimZ = UInt32(b.z)
                    config.sharedMemBytes = UInt32(configuration.sharedMemoryBytes)
                    config.hStream = stream.handle
                    config.attrs = attributePointer
                    config.numAttrs = 1
                    try api.check(
                        api.cuLaunchKernelEx(&config, handle, params, nil),
                        "cuLaunchKernelEx(\(name), grid \(g), block \(b), PDL)"
                    )
                }
            } else {
                try api.check(
                    api.cuLaunchKernel(
                        handle, UInt32(g.x), UInt32(g.y), UInt32(g.z), UInt32(b.x), UInt32(b.y), UInt32(b.z),
                        UInt32(configuration.sharedMemoryBytes), stream.handle, params, nil
                    ),
                    "cuLaunchKernel(\(name), grid \(g), block \(b))"
                )
            }
        }
        if Self.synchronizeEveryLaunch && mayWait {
            do {
                try stream.synchronize()
            } catch {
                throw CUDAError.kernelFailed(kernel: "\(name) (grid \(g), block \(b))", detail: "\(error)")
            }
        }
    }

    /// Raises the function's dynamic shared-memory limit to `bytes` when needed (before a launch or a capture).
    func allowDynamicSharedMemory(_ bytes: Int) throws {
        guard bytes > allowedDynamicSharedMemory else { return }
        let limit = module.device.maxSharedMemoryPerBlockOptin
        guard bytes <= limit else {
            throw CUDAError.invalidArgument(
                "kernel \(name) needs \(bytes) bytes of shared memory; the device allows \(limit)"
            )
        }
        try api.check(
            api.cuFuncSetAttribute(handle, Int32(ERNIE_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), Int32(bytes)),
            "cuFuncSetAttribute(\(name), MAX_DYNAMIC_SHARED_SIZE_BYTES)"
        )
        allowedDynamicSharedMemory = bytes
    }

    /// The function handle as an integer (launch signatures).
    var handleBits: UInt64 { UInt64(UInt(bitPattern: UnsafeRawPointer(handle))) }

    /// `ERNIE_CUDA_SYNC=1`: wait after every launch so a faulting kernel is named (debugging; slow).
    static let synchronizeEveryLaunch: Bool = ProcessInfo.processInfo.environment["ERNIE_CUDA_SYNC"] == "1"

    /// Registers per thread (`cuFuncGetAttribute`), read once.
    private(set) lazy var registersPerThread: Int = (try? attribute(Int(ERNIE_CU_FUNC_ATTRIBUTE_NUM_REGS))) ?? 0

    /// Blocks of `threads` threads and `sharedBytes` dynamic shared memory that one Hopper multiprocessor holds at
    /// once: the least of the register file (64 K, allocated per warp in units of 256), 64 warps, 32 blocks and
    /// 228 KiB of shared memory (1 KiB reserved per block). At least 1.
    func residentBlocksPerMultiprocessor(threads: Int, sharedBytes: Int) -> Int {
        Self.residentBlocks(registersPerThread: registersPerThread, threads: threads, sharedBytes: sharedBytes)
    }

    static func residentBlocks(registersPerThread: Int, threads: Int, sharedBytes: Int) -> Int {
        let warps = max(1, (threads + 31) / 32)
        let registersPerWarp = max(256, (registersPerThread * 32 + 255) / 256 * 256)
        let byRegisters = 65536 / (registersPerWarp * warps)
        let byWarps = 64 / warps
        let byShared = (228 * 1024) / (sharedBytes + 1024)
        return max(1, min(byRegisters, byWarps, byShared, 32))
    }

    /// `cuFuncGetAttribute` (registers, local memory) for reports.
    func attribute(_ attribute: Int) throws -> Int {
        var value: Int32 = 0
        try api.check(api.cuFuncGetAttribute(&value, Int32(attribute), handle), "cuFuncGetAttribute(\(name))")
        return Int(value)
    }
}
