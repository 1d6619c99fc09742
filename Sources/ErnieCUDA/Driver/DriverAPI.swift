import CErnieCUDA

/// The CUDA driver API entry points, resolved from `libcuda.so.1` by their exact exported names (`_v2` where
/// `cuda.h` renames the function; see gpu-kernels.md §1.2 and scripts/gpu/check_abi.c).
struct DriverAPI: @unchecked Sendable {
    // @unchecked: immutable C function pointers into a library that is never unloaded.
    let library: DynamicLibrary
    let cuInit: ernie_cuInit_fn
    let cuDriverGetVersion: ernie_cuDriverGetVersion_fn
    let cuGetErrorName: ernie_cuGetErrorName_fn
    let cuGetErrorString: ernie_cuGetErrorString_fn
    let cuDeviceGetCount: ernie_cuDeviceGetCount_fn
    let cuDeviceGet: ernie_cuDeviceGet_fn
    let cuDeviceGetName: ernie_cuDeviceGetName_fn
    let cuDeviceGetAttribute: ernie_cuDeviceGetAttribute_fn
    let cuDeviceTotalMem: ernie_cuDeviceTotalMem_fn
    let cuDevicePrimaryCtxRetain: ernie_cuDevicePrimaryCtxRetain_fn
    let cuDevicePrimaryCtxRelease: ernie_cuDevicePrimaryCtxRelease_fn
    let cuCtxSetCurrent: ernie_cuCtxSetCurrent_fn
    let cuCtxSynchronize: ernie_cuCtxSynchronize_fn
    let cuMemGetInfo: ernie_cuMemGetInfo_fn
    let cuMemAlloc: ernie_cuMemAlloc_fn
    let cuMemFree: ernie_cuMemFree_fn
    let cuMemAllocHost: ernie_cuMemAllocHost_fn
    let cuMemFreeHost: ernie_cuMemFreeHost_fn
    let cuMemcpyHtoDAsync: ernie_cuMemcpyHtoDAsync_fn
    let cuMemcpyDtoHAsync: ernie_cuMemcpyDtoHAsync_fn
    let cuMemcpyDtoDAsync: ernie_cuMemcpyDtoDAsync_fn
    let cuMemsetD8Async: ernie_cuMemsetD8Async_fn
    let cuMemsetD32Async: ernie_cuMemsetD32Async_fn
    let cuStreamCreate: ernie_cuStreamCreate_fn
    let cuStreamDestroy: ernie_cuStreamDestroy_fn
    let cuStreamSynchronize: ernie_cuStreamSynchronize_fn
    let cuEventCreate: ernie_cuEventCreate_fn
    let cuEventDestroy: ernie_cuEventDestroy_fn
    let cuEventRecord: ernie_cuEventRecord_fn
    let cuEventSynchronize: ernie_cuEventSynchronize_fn
    let cuStreamWaitEvent: ernie_cuStreamWaitEvent_fn
    let cuEventElapsedTime: ernie_cuEventElapsedTime_fn
    let cuModuleLoadData: ernie_cuModuleLoadData_fn
    let cuModuleUnload: ernie_cuModuleUnload_fn
    let cuModuleGetFunction: ernie_cuModuleGetFunction_fn
    let cuFuncSetAttribute: ernie_cuFuncSetAttribute_fn
    let cuFuncGetAttribute: ernie_cuFuncGetAttribute_fn
    let cuLaunchKernel: ernie_cuLaunchKernel_fn
    let cuLaunchKernelEx: ernie_cuLaunchKernelEx_fn
    let cuStreamBeginCapture: ernie_cuStreamBeginCapture_fn
    let cuStreamEndCapture: ernie_cuStreamEndCapture_fn
    let cuGraphInstantiateWithFlags: ernie_cuGraphInstantiateWithFlags_fn
    let cuGraphLaunch: ernie_cuGraphLaunch_fn
    let cuGraphUpload: ernie_cuGraphUpload_fn
    let cuGraphDestroy: ernie_cuGraphDestroy_fn
    let cuGraphExecDestroy: ernie_cuGraphExecDestroy_fn

    init(library: DynamicLibrary) throws {
        self.library = library
        cuInit = try library.function("cuInit")
        cuDriverGetVersion = try library.function("cuDriverGetVersion")
        cuGetErrorName = try library.function("cuGetErrorName")
        cuGetErrorString = try library.function("cuGetErrorString")
        cuDeviceGetCount = try library.function("cuDeviceGetCount")
        cuDeviceGet = try library.function("cuDeviceGet")
        cuDeviceGetName = try library.function("cuDeviceGetName")
        cuDeviceGetAttribute = try library.function("cuDeviceGetAttribute")
        cuDeviceTotalMem = try library.function("cuDeviceTotalMem_v2")
        cuDevicePrimaryCtxRetain = try library.function("cuDevicePrimaryCtxRetain")
        cuDevicePrimaryCtxRelease = try library.function("cuDevicePrimaryCtxRelease_v2")
        cuCtxSetCurrent = try library.function("cuCtxSetCurrent")
        cuCtxSynchronize = try library.function("cuCtxSynchronize")
        cuMemGetInfo = try library.function("cuMemGetInfo_v2")
        cuMemAlloc = try library.function("cuMemAlloc_v2")
        cuMemFree = try library.function("cuMemFree_v2")
        cuMemAllocHost = try library.function("cuMemAllocHost_v2")
        cuMemFreeHost = try library.function("cuMemFreeHost")
        cuMemcpyHtoDAsync = try library.function("cuMemcpyHtoDAsync_v2")
        cuMemcpyDtoHAsync = try library.function("cuMemcpyDtoHAsync_v2")
        cuMemcpyDtoDAsync = try library.function("cuMemcpyDtoDAsync_v2")
        cuMemsetD8Async = try library.function("cuMemsetD8Async")
        cuMemsetD32Async = try library.function("cuMemsetD32Async")
        cuStreamCreate = try library.function("cuStreamCreate")
        cuStreamDestroy = try library.function("cuStreamDestroy_v2")
        cuStreamSynchronize = try library.function("cuStreamSynchronize")
        cuEventCreate = try library.function("cuEventCreate")
        cuEventDestroy = try library.function("cuEventDestroy_v2")
        cuEventRecord = try library.function("cuEventRecord")
        cuEventSynchronize = try library.function("cuEventSynchronize")
        cuStreamWaitEvent = try library.function("cuStreamWaitEvent")
        cuEventElapsedTime = try library.function("cuEventElapsedTime_v2")
        cuModuleLoadData = try library.function("cuModuleLoadData")
        cuModuleUnload = try library.function("cuModuleUnload")
        cuModuleGetFunction = try library.function("cuModuleGetFunction")
        cuFuncSetAttribute = try library.function("cuFuncSetAttribute")
        cuFuncGetAttribute = try library.function("cuFuncGetAttribute")
        cuLaunchKernel = try library.function("cuLaunchKernel")
        cuLaunchKernelEx = try library.function("cuLaunchKernelEx")
        cuStreamBeginCapture = try library.function("cuStreamBeginCapture_v2")
        cuStreamEndCapture = try library.function("cuStreamEndCapture")
        cuGraphInstantiateWithFlags = try library.function("cuGraphInstantiateWithFlags")
        cuGraphLaunch = try library.function("cuGraphLaunch")
        cuGraphUpload = try library.function("cuGraphUpload")
        cuGraphDestroy = try library.function("cuGraphDestroy")
        cuGraphExecDestroy = try library.function("cuGraphExecDestroy")
    }

    /// Throws `CUDAError.driver` naming `call` when `result` is not `CUDA_SUCCESS`.
    func check(_ result: ernie_CUresult, _ call: @autoclosure () -> String) throws {
        guard result != 0 else { return }
        throw error(result, call())
    }

    func error(_ result: ernie_CUresult, _ call: String) -> CUDAError {
        var namePointer: UnsafePointer<CChar>?
        var messagePointer: UnsafePointer<CChar>?
        let name: String
        if cuGetErrorName(result, &namePointer) == 0, let namePointer {
            name = String(cString: namePointer)
        } else {
            name = CUDAResultNames.name(result)
        }
        let message: String
        if cuGetErrorString(result, &messagePointer) == 0, let messagePointer {
            message = String(cString: messagePointer)
        } else {
            message = "unknown error"
        }
        return .driver(call: call, code: result, name: name, message: message)
    }
}
