/// Loads a CUDA library by trying each search candidate in order.
enum LibraryLoader {
    /// The first candidate that `dlopen` accepts, or `CUDAError.libraryNotFound` listing every attempt.
    static func load(
        _ spec: CUDALibrarySpec, environment: [String: String], global: Bool = false
    ) throws -> DynamicLibrary {
        let candidates = LibrarySearch.candidates(for: spec, environment: environment)
        var attempts: [String] = []
        for candidate in candidates {
            switch DynamicLibrary.open(candidate.loadPath, global: global) {
            case .success(let library):
                return library
            case .failure(let error):
                attempts.append("\(candidate): \(error.message)")
            }
        }
        throw CUDAError.libraryNotFound(
            library: spec.displayName, environmentVariable: spec.environmentVariable, attempts: attempts
        )
    }
}
