import CErnieCUDA
import Foundation

/// The loaded NVRTC library (no GPU needed). One per process, loaded on first use.
public final class NVRTC: Sendable {
    let library: DynamicLibrary
    // @convention(c) function pointers are plain values; the struct below is immutable.
    let api: NVRTCAPI
    public let version: (major: Int, minor: Int)
    /// The file NVRTC was loaded from.
    public let libraryPath: String
    /// The `libnvrtc-builtins` file preloaded beside it, if one was found.
    public let builtinsPath: String?

    private init(library: DynamicLibrary, api: NVRTCAPI, version: (Int, Int), libraryPath: String, builtins: String?) {
        self.library = library
        self.api = api
        self.version = version
        self.libraryPath = libraryPath
        self.builtinsPath = builtins
    }

    private static let loaded: Result<NVRTC, any Error> = {
        do {
            return .success(try NVRTC.loadNow(environment: ProcessInfo.processInfo.environment))
        } catch {
            return .failure(error)
        }
    }()

    /// The process-wide NVRTC.
    public static func shared() throws -> NVRTC {
        try loaded.get()
    }

    private static func loadNow(environment: [String: String]) throws -> NVRTC {
        let library = try LibraryLoader.load(.nvrtc, environment: environment)
        let api = try NVRTCAPI(library: library)
        var major: Int32 = 0
        var minor: Int32 = 0
        let result = api.nvrtcVersion(&major, &minor)
        guard result == 0 else {
            throw CUDAError.nvrtc(call: "nvrtcVersion", code: result, message: api.message(result))
        }
        let path = library.resolvedPath(probing: ["nvrtcVersion"]) ?? library.requestedPath
        // NVRTC dlopens libnvrtc-builtins.so.<major>.<minor> by bare name on the first compile and has no RUNPATH,
        // so a pip-wheel install fails unless the file beside it is loaded first (RTLD_GLOBAL).
        var builtins: String?
        let directory = (path as NSString).deletingLastPathComponent
        let builtinsName = "libnvrtc-builtins.so.\(major).\(minor)"
        let candidate = directory.isEmpty ? builtinsName : directory + "/" + builtinsName
        if FileManager.default.fileExists(atPath: candidate),
            case .success = DynamicLibrary.open(candidate, global: true)
        {
            builtins = candidate
        }
        return NVRTC(
            library: library, api: api, version: (Int(major), Int(minor)), libraryPath: path, builtins: builtins)
    }

    /// "13.0".
    public var versionString: String { "\(version.major).\(version.minor)" }

    /// Compiles `source` to a CUBIN for `options` (which must name a real `sm_XX` architecture).
    ///
    /// - Parameters:
    ///   - headers: in-memory headers `(include name, text)` the source may `#include "name"`.
    public func compileToCUBIN(
        source: String, name: String, headers: [(name: String, text: String)], options: [String]
    )
        throws -> [UInt8]
    {
        var program: ernie_nvrtcProgram?
        let create = withCStrings(headers.map(\.text)) { headerTexts in
            withCStrings(headers.map(\.name)) { headerNames in
                api.nvrtcCreateProgram(&program, source, name, Int32(headers.count), headerTexts, headerNames)
            }
        }
        guard create == 0, program != nil else {
            throw CUDAError.nvrtc(call: "nvrtcCreateProgram(\(name))", code: create, message: api.message(create))
        }
        defer { _ = api.nvrtcDestroyProgram(&program) }
        let compile = withCStrings(options) { api.nvrtcCompileProgram(program, Int32(options.count), $0) }
        let log = programLog(program)
        guard compile == 0 else {
            throw CUDAError.compilation(
                source: name, options: options, log: log.isEmpty ? api.message(compile) : log
            )
        }
        var size = 0
        let sizeResult = api.nvrtcGetCUBINSize(program, &size)
        guard sizeResult == 0 else {
            throw CUDAError.nvrtc(
                call: "nvrtcGetCUBINSize(\(name))", code: sizeResult, message: api.message(sizeResult))
        }
        guard size > 0 else {
            throw CUDAError.compilation(
                source: name, options: options,
                log: "NVRTC produced no CUBIN (the architecture option must be a real sm_XX target)\n\(log)"
            )
        }
        var cubin = [UInt8](repeating: 0, count: size)
        let getResult = cubin.withUnsafeMutableBytes {
            api.nvrtcGetCUBIN(program, $0.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        guard getResult == 0 else {
            throw CUDAError.nvrtc(call: "nvrtcGetCUBIN(\(name))", code: getResult, message: api.message(getResult))
        }
        return cubin
    }

    private func programLog(_ program: ernie_nvrtcProgram?) -> String {
        var size = 0
        guard api.nvrtcGetProgramLogSize(program, &size) == 0, size > 1 else { return "" }
        var buffer = [CChar](repeating: 0, count: size)
        guard api.nvrtcGetProgramLog(program, &buffer) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// NVRTC entry points.
struct NVRTCAPI: @unchecked Sendable {
    // @unchecked: immutable C function pointers into a library that is never unloaded.
    let nvrtcGetErrorString: ernie_nvrtcGetErrorString_fn
    let nvrtcVersion: ernie_nvrtcVersion_fn
    let nvrtcCreateProgram: ernie_nvrtcCreateProgram_fn
    let nvrtcDestroyProgram: ernie_nvrtcDestroyProgram_fn
    let nvrtcCompileProgram: ernie_nvrtcCompileProgram_fn
    let nvrtcGetProgramLogSize: ernie_nvrtcGetProgramLogSize_fn
    let nvrtcGetProgramLog: ernie_nvrtcGetProgramLog_fn
    let nvrtcGetCUBINSize: ernie_nvrtcGetCUBINSize_fn
    let nvrtcGetCUBIN: ernie_nvrtcGetCUBIN_fn

    init(library: DynamicLibrary) throws {
        nvrtcGetErrorString = try library.function("nvrtcGetErrorString")
        nvrtcVersion = try library.function("nvrtcVersion")
        nvrtcCreateProgram = try library.function("nvrtcCreateProgram")
        nvrtcDestroyProgram = try library.function("nvrtcDestroyProgram")
        nvrtcCompileProgram = try library.function("nvrtcCompileProgram")
        nvrtcGetProgramLogSize = try library.function("nvrtcGetProgramLogSize")
        nvrtcGetProgramLog = try library.function("nvrtcGetProgramLog")
        nvrtcGetCUBINSize = try library.function("nvrtcGetCUBINSize")
        nvrtcGetCUBIN = try library.function("nvrtcGetCUBIN")
    }

    func message(_ result: ernie_nvrtcResult) -> String {
        guard let text = nvrtcGetErrorString(result) else { return "nvrtcResult \(result)" }
        return String(cString: text)
    }
}

/// Calls `body` with a C array of C strings for `strings` (valid only during the call).
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let duplicates: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { duplicates.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = duplicates.map { $0.map { UnsafePointer($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
