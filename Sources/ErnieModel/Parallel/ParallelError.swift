/// Errors of tensor-, expert- and data-parallel execution.
public enum ParallelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The model's shapes cannot be split the way the parallel sizes ask (heads, widths or experts not divisible).
    case unsupportedLayout(String)
    /// A rank of a parallel group failed; the group cannot run further steps.
    case rankFailed(rank: Int, reason: String)
    /// The group was broken by an earlier failure (a collective may have been left half done).
    case groupBroken(String)
    /// The backend cannot run this kind of parallelism.
    case unsupportedBackend(String)

    public var description: String {
        switch self {
        case let .unsupportedLayout(reason):
            "unsupported parallel layout: \(reason)"
        case let .rankFailed(rank, reason):
            "tensor-parallel rank \(rank) failed: \(reason)"
        case let .groupBroken(reason):
            "the tensor-parallel group is unusable after an earlier failure: \(reason)"
        case let .unsupportedBackend(reason):
            reason
        }
    }
}
