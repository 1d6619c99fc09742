/// Every failure of the CUDA backend: a library call that returned an error status, a library that could not be
/// found, a kernel that did not compile, memory that did not fit, or bad input.
public enum CUDAError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A CUDA driver API call failed.
    case driver(call: String, code: Int32, name: String, message: String)
    /// An NVRTC call failed (not the compile itself; see `compilation`).
    case nvrtc(call: String, code: Int32, message: String)
    /// A cuBLASLt call failed.
    case cublas(call: String, code: Int32, name: String, message: String)
    /// No candidate for a library could be loaded.
    case libraryNotFound(library: String, environmentVariable: String, attempts: [String])
    /// A library was loaded but lacks an entry point (usually too old).
    case missingSymbol(symbol: String, library: String)
    /// NVRTC rejected a kernel source.
    case compilation(source: String, options: [String], log: String)
    /// A device allocation failed.
    case outOfMemory(what: String, bytes: Int, freeBytes: Int?, totalBytes: Int?)
    /// No usable GPU.
    case noDevice(String)
    /// A caller passed something the backend cannot run (shape mismatch, id out of range, capacity exceeded).
    case invalidArgument(String)
    /// A kernel source or resource could not be found or read.
    case missingResource(String)
    /// A kernel faulted (reported with `ERNIE_CUDA_SYNC=1`, which waits after every launch).
    case kernelFailed(kernel: String, detail: String)

    public var description: String {
        switch self {
        case .driver(let call, let code, let name, let message):
            return "CUDA driver call \(call) failed: \(name) (\(code)): \(message)"
        case .nvrtc(let call, let code, let message):
            return "NVRTC call \(call) failed (\(code)): \(message)"
        case .cublas(let call, let code, let name, let message):
            return "cuBLASLt call \(call) failed: \(name) (\(code)): \(message)"
        case .libraryNotFound(let library, let variable, let attempts):
            let tried = attempts.isEmpty ? "  (no candidates)" : attempts.map { "  - \($0)" }.joined(separator: "\n")
            return "could not load the \(library) library; set \(variable) to its file or directory. Tried:\n\(tried)"
        case .missingSymbol(let symbol, let library):
            return "\(library) does not export \(symbol) (library too old for CUDA 13?)"
        case .compilation(let source, let options, let log):
            return "NVRTC failed to compile \(source) with options \(options.joined(separator: " ")):\n\(log)"
        case .outOfMemory(let what, let bytes, let free, let total):
            var text = "out of GPU memory allocating \(what) (\(Self.formatBytes(bytes)))"
            if let free, let total {
                text += "; \(Self.formatBytes(free)) free of \(Self.formatBytes(total))"
            }
            return text
        case .noDevice(let message):
            return "no usable CUDA device: \(message)"
        case .invalidArgument(let message):
            return "invalid argument: \(message)"
        case .missingResource(let message):
            return message
        case .kernelFailed(let kernel, let detail):
            return "kernel \(kernel) failed: \(detail)"
        }
    }

    static func formatBytes(_ bytes: Int) -> String {
        let gib = Double(bytes) / 1_073_741_824
        if gib >= 1 { return String(format: "%.2f GiB", gib) }
        let mib = Double(bytes) / 1_048_576
        if mib >= 1 { return String(format: "%.1f MiB", mib) }
        return "\(bytes) B"
    }
}

/// Names of common `CUresult` codes (CUDA 13.0 `cuda.h`), used when `cuGetErrorName` itself is unavailable.
enum CUDAResultNames {
    static let names: [Int32: String] = [
        0: "CUDA_SUCCESS", 1: "CUDA_ERROR_INVALID_VALUE", 2: "CUDA_ERROR_OUT_OF_MEMORY",
        3: "CUDA_ERROR_NOT_INITIALIZED", 4: "CUDA_ERROR_DEINITIALIZED", 34: "CUDA_ERROR_STUB_LIBRARY",
        36: "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER", 46: "CUDA_ERROR_DEVICE_UNAVAILABLE",
        100: "CUDA_ERROR_NO_DEVICE", 101: "CUDA_ERROR_INVALID_DEVICE", 200: "CUDA_ERROR_INVALID_IMAGE",
        201: "CUDA_ERROR_INVALID_CONTEXT", 209: "CUDA_ERROR_NO_BINARY_FOR_GPU", 218: "CUDA_ERROR_INVALID_PTX",
        221: "CUDA_ERROR_JIT_COMPILER_NOT_FOUND", 222: "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
        300: "CUDA_ERROR_INVALID_SOURCE", 301: "CUDA_ERROR_FILE_NOT_FOUND", 400: "CUDA_ERROR_INVALID_HANDLE",
        401: "CUDA_ERROR_ILLEGAL_STATE", 500: "CUDA_ERROR_NOT_FOUND", 600: "CUDA_ERROR_NOT_READY",
        700: "CUDA_ERROR_ILLEGAL_ADDRESS", 701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
        702: "CUDA_ERROR_LAUNCH_TIMEOUT", 709: "CUDA_ERROR_CONTEXT_IS_DESTROYED", 710: "CUDA_ERROR_ASSERT",
        714: "CUDA_ERROR_HARDWARE_STACK_ERROR", 715: "CUDA_ERROR_ILLEGAL_INSTRUCTION",
        716: "CUDA_ERROR_MISALIGNED_ADDRESS", 717: "CUDA_ERROR_INVALID_ADDRESS_SPACE", 718: "CUDA_ERROR_INVALID_PC",
        719: "CUDA_ERROR_LAUNCH_FAILED", 720: "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE",
        800: "CUDA_ERROR_NOT_PERMITTED", 801: "CUDA_ERROR_NOT_SUPPORTED", 802: "CUDA_ERROR_SYSTEM_NOT_READY",
        803: "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", 804: "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
        900: "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", 901: "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
        906: "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT", 908: "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD",
        909: "CUDA_ERROR_TIMEOUT", 999: "CUDA_ERROR_UNKNOWN",
    ]

    static func name(_ code: Int32) -> String { names[code] ?? "CUresult \(code)" }
}

/// Names of `cublasStatus_t` codes (cublas_api.h), used when `cublasLtGetStatusName` is unavailable.
enum CuBLASStatusNames {
    static let names: [Int32: String] = [
        0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
        7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
        13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
        16: "CUBLAS_STATUS_LICENSE_ERROR",
    ]

    static func name(_ code: Int32) -> String { names[code] ?? "cublasStatus \(code)" }
}
