import CErnieCUDA

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A shared library opened with `dlopen`. It is never closed: function pointers resolved from it are used for the
/// life of the process.
final class DynamicLibrary: @unchecked Sendable {
    // @unchecked: both stored properties are immutable after init and `dlsym` is thread-safe.
    let handle: UnsafeMutableRawPointer
    /// The name or path that was passed to `dlopen`.
    let requestedPath: String

    private init(handle: UnsafeMutableRawPointer, requestedPath: String) {
        self.handle = handle
        self.requestedPath = requestedPath
    }

    /// Opens `path` (a soname searched by the loader, or a file path); on failure returns the loader's message.
    static func open(_ path: String, global: Bool = false) -> Result<DynamicLibrary, DynamicLibraryError> {
        _ = dlerror()
        let flags = RTLD_NOW | (global ? RTLD_GLOBAL : RTLD_LOCAL)
        guard let handle = dlopen(path, flags) else {
            return .failure(DynamicLibraryError(path: path, message: lastError() ?? "dlopen failed"))
        }
        return .success(DynamicLibrary(handle: handle, requestedPath: path))
    }

    /// The raw address of `name`, or nil when the library does not export it.
    func address(of name: String) -> UnsafeMutableRawPointer? {
        dlsym(handle, name)
    }

    /// `name` cast to the C function-pointer type `T`.
    func function<T>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let pointer = address(of: name) else {
            throw CUDAError.missingSymbol(symbol: name, library: resolvedPath ?? requestedPath)
        }
        return unsafeBitCast(pointer, to: T.self)
    }

    /// `name` cast to `T`, or nil when absent (optional entry points).
    func optionalFunction<T>(_ name: String, as type: T.Type = T.self) -> T? {
        address(of: name).map { unsafeBitCast($0, to: T.self) }
    }

    /// The file the loader actually mapped (found through a symbol with `dladdr`), when it can be determined.
    var resolvedPath: String? {
        resolvedPath(probing: [])
    }

    /// Like `resolvedPath`, probing the given exported symbols.
    func resolvedPath(probing symbols: [String]) -> String? {
        for symbol in symbols {
            guard let address = dlsym(handle, symbol) else { continue }
            if let name = ernie_dl_path_of(address) {
                return String(cString: name)
            }
        }
        return requestedPath.hasPrefix("/") ? requestedPath : nil
    }

    private static func lastError() -> String? {
        guard let message = dlerror() else { return nil }
        return String(cString: message)
    }
}

/// A failed `dlopen`.
struct DynamicLibraryError: Error, Sendable, Equatable {
    var path: String
    var message: String
}
