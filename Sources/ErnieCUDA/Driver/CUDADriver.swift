import CErnieCUDA
import Foundation

/// The loaded and initialised CUDA driver (`cuInit(0)` done). One per process.
public final class CUDADriver: Sendable {
    let api: DriverAPI
    /// `cuDriverGetVersion`, e.g. 13000 for CUDA 13.0.
    public let version: Int
    /// The file the driver library was loaded from.
    public let libraryPath: String

    private init(api: DriverAPI, version: Int, libraryPath: String) {
        self.api = api
        self.version = version
        self.libraryPath = libraryPath
    }

    private static let loaded: Result<CUDADriver, any Error> = {
        do {
            return .success(try CUDADriver.loadNow(environment: ProcessInfo.processInfo.environment))
        } catch {
            return .failure(error)
        }
    }()

    /// The process-wide driver; loads `libcuda` and calls `cuInit` on first use.
    public static func shared() throws -> CUDADriver {
        try loaded.get()
    }

    private static func loadNow(environment: [String: String]) throws -> CUDADriver {
        let library = try LibraryLoader.load(.driver, environment: environment)
        let api = try DriverAPI(library: library)
        let initResult = api.cuInit(0)
        if initResult == 34 {
            throw CUDAError.noDevice(
                "\(library.requestedPath) is the CUDA stub library (CUDA_ERROR_STUB_LIBRARY); point ERNIE_CUDA_PATH "
                    + "at the driver's libcuda.so.1"
            )
        }
        if initResult == 100 {
            throw CUDAError.noDevice("cuInit reported CUDA_ERROR_NO_DEVICE (no NVIDIA GPU visible to this process)")
        }
        try api.check(initResult, "cuInit")
        var version: Int32 = 0
        try api.check(api.cuDriverGetVersion(&version), "cuDriverGetVersion")
        let path = library.resolvedPath(probing: ["cuInit"]) ?? library.requestedPath
        return CUDADriver(api: api, version: Int(version), libraryPath: path)
    }

    /// Number of visible devices.
    public func deviceCount() throws -> Int {
        var count: Int32 = 0
        try api.check(api.cuDeviceGetCount(&count), "cuDeviceGetCount")
        return Int(count)
    }

    /// "13.0" for 13000.
    public var versionString: String { "\(version / 1000).\((version % 1000) / 10)" }
}
