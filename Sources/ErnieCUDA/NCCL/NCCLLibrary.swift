import CErnieCUDA
import Foundation

extension CUDALibrarySpec {
    /// NCCL: `libnccl.so.2` from `$ERNIE_NCCL_PATH`, the loader, the toolkit, or a pip wheel (`nvidia-nccl-cu13` /
    /// `-cu12` install it under `nvidia/nccl/lib`, not under `nvidia/cu13/lib`).
    public static let nccl = CUDALibrarySpec(
        displayName: "NCCL", environmentVariable: "ERNIE_NCCL_PATH", fileNames: ["libnccl.so.2", "libnccl.so"],
        wheelDirectories: ["nvidia/nccl/lib"], searchToolkit: true,
        systemDirectories: ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64"]
    )
}

/// The NCCL entry points ErnieServe calls, resolved with `dlsym` by their exported names.
struct NCCLAPI: @unchecked Sendable {
    // @unchecked: immutable C function pointers into a library that is never unloaded.
    let getVersion: ernie_ncclGetVersion_fn
    let getUniqueId: ernie_ncclGetUniqueId_fn
    let commInitRank: ernie_ncclCommInitRank_fn
    let commDestroy: ernie_ncclCommDestroy_fn
    let commAbort: ernie_ncclCommAbort_fn
    let getErrorString: ernie_ncclGetErrorString_fn
    let commGetAsyncError: ernie_ncclCommGetAsyncError_fn
    let allReduce: ernie_ncclAllReduce_fn
    let allGather: ernie_ncclAllGather_fn
    let groupStart: ernie_ncclGroupStart_fn
    let groupEnd: ernie_ncclGroupEnd_fn
    /// `ncclGetLastError` (NCCL ≥ 2.13); nil when absent.
    let getLastError: ernie_ncclGetLastError_fn?

    init(library: DynamicLibrary) throws {
        getVersion = try library.function("ncclGetVersion")
        getUniqueId = try library.function("ncclGetUniqueId")
        commInitRank = try library.function("ncclCommInitRank")
        commDestroy = try library.function("ncclCommDestroy")
        commAbort = try library.function("ncclCommAbort")
        getErrorString = try library.function("ncclGetErrorString")
        commGetAsyncError = try library.function("ncclCommGetAsyncError")
        allReduce = try library.function("ncclAllReduce")
        allGather = try library.function("ncclAllGather")
        groupStart = try library.function("ncclGroupStart")
        groupEnd = try library.function("ncclGroupEnd")
        getLastError = library.optionalFunction("ncclGetLastError")
    }
}

/// The 128 opaque bytes every rank of a group passes to `ncclCommInitRank` (`ncclUniqueId`).
public struct NCCLUniqueID: Sendable, Equatable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == Int(ERNIE_NCCL_UNIQUE_ID_BYTES) else {
            throw NCCLError.invalidArgument("an NCCL unique id has \(ERNIE_NCCL_UNIQUE_ID_BYTES) bytes, not \(bytes.count)")
        }
        self.bytes = bytes
    }

    init(_ id: ernie_ncclUniqueId) {
        var copy = id
        bytes = withUnsafeBytes(of: &copy) { Array($0) }
    }

    var cValue: ernie_ncclUniqueId {
        var id = ernie_ncclUniqueId()
        withUnsafeMutableBytes(of: &id) { raw in
            for (i, byte) in bytes.prefix(raw.count).enumerated() { raw[i] = byte }
        }
        return id
    }
}

/// The loaded NCCL library. One per process (`shared()`), loaded on first use.
///
/// NVLink multicast (NVLS) is switched off before the library is loaded (`NCCL_NVLS_ENABLE=0`, set in this
/// process's environment, overriding any value): multicast objects must not be created on the shared multi-GPU
/// machines this engine runs on.
public final class NCCLLibrary: Sendable {
    let library: DynamicLibrary
    let api: NCCLAPI
    /// `ncclGetVersion`, e.g. 22809 for 2.28.9.
    public let version: Int
    /// The file NCCL was loaded from.
    public let libraryPath: String

    private init(library: DynamicLibrary, api: NCCLAPI, version: Int, libraryPath: String) {
        self.library = library
        self.api = api
        self.version = version
        self.libraryPath = libraryPath
    }

    /// The environment variable and value that keep NVLink multicast off.
    public static let nvlsSetting = (name: "NCCL_NVLS_ENABLE", value: "0")

    private static let loaded: Result<NCCLLibrary, any Error> = {
        do {
            return .success(try NCCLLibrary.load(environment: ProcessInfo.processInfo.environment))
        } catch {
            return .failure(error)
        }
    }()

    /// The process-wide NCCL.
    public static func shared() throws -> NCCLLibrary {
        try loaded.get()
    }

    /// Sets `NCCL_NVLS_ENABLE=0`, then loads NCCL from the places `CUDALibrarySpec.nccl` names (not cached: tests).
    ///
    /// - Throws: `CUDAError.libraryNotFound` listing every place tried, `CUDAError.missingSymbol` for a library
    ///   without the needed entry points, `NCCLError.call` when `ncclGetVersion` fails.
    public static func load(environment: [String: String]) throws -> NCCLLibrary {
        setenv(nvlsSetting.name, nvlsSetting.value, 1)
        let library = try LibraryLoader.load(.nccl, environment: environment)
        let api = try NCCLAPI(library: library)
        var version: Int32 = 0
        let result = api.getVersion(&version)
        guard result == ERNIE_NCCL_SUCCESS else {
            throw NCCLError.call(
                name: "ncclGetVersion", code: result, message: message(api, result), detail: nil)
        }
        let path = library.resolvedPath(probing: ["ncclGetVersion"]) ?? library.requestedPath
        return NCCLLibrary(library: library, api: api, version: Int(version), libraryPath: path)
    }

    /// "2.28.9" for 22809 (NCCL ≥ 2.9 encodes major·10000 + minor·100 + patch).
    public var versionString: String {
        version >= 10000
            ? "\(version / 10000).\((version % 10000) / 100).\(version % 100)"
            : "\(version / 1000).\((version % 1000) / 100).\(version % 100)"
    }

    /// A fresh unique id for a new group (`ncclGetUniqueId`).
    public func uniqueID() throws -> NCCLUniqueID {
        var id = ernie_ncclUniqueId()
        try check(api.getUniqueId(&id), "ncclGetUniqueId", comm: nil)
        return NCCLUniqueID(id)
    }

    /// Throws `NCCLError.call` for a failed result, with NCCL's own message and last error.
    func check(_ result: ernie_ncclResult, _ call: @autoclosure () -> String, comm: ernie_ncclComm?) throws {
        guard result != ERNIE_NCCL_SUCCESS else { return }
        let detail = api.getLastError.flatMap { $0(comm) }.map { String(cString: $0) }
        throw NCCLError.call(name: call(), code: result, message: Self.message(api, result), detail: detail)
    }

    private static func message(_ api: NCCLAPI, _ result: ernie_ncclResult) -> String {
        api.getErrorString(result).map { String(cString: $0) } ?? "unknown error"
    }
}
