/// Errors of NCCL calls and of the NCCL communicator.
public enum NCCLError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An NCCL call returned an error code.
    case call(name: String, code: Int32, message: String, detail: String?)
    /// A collective failed asynchronously (`ncclCommGetAsyncError`).
    case asynchronous(code: Int32, message: String)
    /// The group was aborted after a failure on some rank.
    case aborted(String)
    /// A caller passed something NCCL cannot do (element type, shapes).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .call(name, code, message, detail):
            var text = "NCCL call \(name) failed: \(NCCLResultNames.name(code)) (\(code)): \(message)"
            if let detail, !detail.isEmpty { text += " — \(detail)" }
            return text
        case let .asynchronous(code, message):
            return "an NCCL collective failed asynchronously: \(NCCLResultNames.name(code)) (\(code)): \(message)"
        case let .aborted(reason):
            return "the NCCL communicator group was aborted: \(reason)"
        case let .invalidArgument(message):
            return "invalid argument for NCCL: \(message)"
        }
    }
}

/// Names of `ncclResult_t` codes (nccl.h).
enum NCCLResultNames {
    static let names: [Int32: String] = [
        0: "ncclSuccess", 1: "ncclUnhandledCudaError", 2: "ncclSystemError", 3: "ncclInternalError",
        4: "ncclInvalidArgument", 5: "ncclInvalidUsage", 6: "ncclRemoteError", 7: "ncclInProgress",
    ]

    static func name(_ code: Int32) -> String { names[code] ?? "ncclResult \(code)" }
}
