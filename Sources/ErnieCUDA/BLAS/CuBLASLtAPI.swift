import CErnieCUDA
import Foundation

/// cuBLASLt entry points, loaded once per process.
final class CuBLASLtAPI: @unchecked Sendable {
    // @unchecked: immutable C function pointers into a library that is never unloaded.
    let library: DynamicLibrary
    let libraryPath: String
    let getVersion: ernie_cublasLtGetVersion_fn
    let getStatusString: ernie_cublasLtGetStatusString_fn
    let getStatusName: ernie_cublasLtGetStatusName_fn?
    let create: ernie_cublasLtCreate_fn
    let destroy: ernie_cublasLtDestroy_fn
    let matmulDescCreate: ernie_cublasLtMatmulDescCreate_fn
    let matmulDescDestroy: ernie_cublasLtMatmulDescDestroy_fn
    let matmulDescSetAttribute: ernie_cublasLtMatmulDescSetAttribute_fn
    let matrixLayoutCreate: ernie_cublasLtMatrixLayoutCreate_fn
    let matrixLayoutDestroy: ernie_cublasLtMatrixLayoutDestroy_fn
    let matrixLayoutSetAttribute: ernie_cublasLtMatrixLayoutSetAttribute_fn
    let preferenceCreate: ernie_cublasLtMatmulPreferenceCreate_fn
    let preferenceDestroy: ernie_cublasLtMatmulPreferenceDestroy_fn
    let preferenceSetAttribute: ernie_cublasLtMatmulPreferenceSetAttribute_fn
    let algoGetHeuristic: ernie_cublasLtMatmulAlgoGetHeuristic_fn
    let matmul: ernie_cublasLtMatmul_fn

    private init(library: DynamicLibrary) throws {
        self.library = library
        libraryPath = library.resolvedPath(probing: ["cublasLtCreate"]) ?? library.requestedPath
        getVersion = try library.function("cublasLtGetVersion")
        getStatusString = try library.function("cublasLtGetStatusString")
        getStatusName = library.optionalFunction("cublasLtGetStatusName")
        create = try library.function("cublasLtCreate")
        destroy = try library.function("cublasLtDestroy")
        matmulDescCreate = try library.function("cublasLtMatmulDescCreate")
        matmulDescDestroy = try library.function("cublasLtMatmulDescDestroy")
        matmulDescSetAttribute = try library.function("cublasLtMatmulDescSetAttribute")
        matrixLayoutCreate = try library.function("cublasLtMatrixLayoutCreate")
        matrixLayoutDestroy = try library.function("cublasLtMatrixLayoutDestroy")
        matrixLayoutSetAttribute = try library.function("cublasLtMatrixLayoutSetAttribute")
        preferenceCreate = try library.function("cublasLtMatmulPreferenceCreate")
        preferenceDestroy = try library.function("cublasLtMatmulPreferenceDestroy")
        preferenceSetAttribute = try library.function("cublasLtMatmulPreferenceSetAttribute")
        algoGetHeuristic = try library.function("cublasLtMatmulAlgoGetHeuristic")
        matmul = try library.function("cublasLtMatmul")
    }

    private static let loaded: Result<CuBLASLtAPI, any Error> = Result {
        try CuBLASLtAPI(library: LibraryLoader.load(.cublasLt, environment: ProcessInfo.processInfo.environment))
    }

    static func shared() throws -> CuBLASLtAPI { try loaded.get() }

    /// cuBLASLt's version number (e.g. 130100 for 13.1.0).
    var version: Int { getVersion() }

    func check(_ status: ernie_cublasStatus, _ call: @autoclosure () -> String) throws {
        guard status != 0 else { return }
        let name = getStatusName.flatMap { $0(status) }.map { String(cString: $0) } ?? CuBLASStatusNames.name(status)
        let message = getStatusString(status).map { String(cString: $0) } ?? "unknown status"
        throw CUDAError.cublas(call: call(), code: status, name: name, message: message)
    }
}
