/// Collective operations among the ranks of a tensor-parallel group, on one backend's activations.
///
/// Every rank calls the same collectives in the same order with tensors of the same shape (the forward pass is the
/// same program on every rank). A communicator belongs to one rank and is used from that rank's thread only.
/// Implementations: `CPUCommunicator` (ErnieCPU, threads and shared memory) and `NCCLCommunicator` (ErnieCUDA).
///
/// The results must be bitwise identical on every rank (the next layer's routing and sampling depend on it).
public protocol Communicator<Device>: AnyObject {
    associatedtype Device: Backend

    /// This rank, `0..<worldSize`.
    var rank: Int { get }
    var worldSize: Int { get }

    /// Sums `x` over all ranks; may reuse `x`'s storage (callers must not use `x` afterwards).
    func allReduceSum(_ x: Device.Tensor) throws -> Device.Tensor

    /// Concatenates the ranks' column blocks: rank `r` passes `[rows, padded]` of which the first `widths[r]`
    /// columns are real (`padded` is the same on every rank, `widths` has one entry per rank); every rank receives
    /// `[rows, Σ widths]` with rank `r`'s real columns starting at `Σ widths[..<r]`.
    func allGatherColumns(_ x: Device.Tensor, widths: [Int]) throws -> Device.Tensor

    /// Marks the group as failed so peers blocked in (or entering) a collective give up with an error instead of
    /// waiting forever. Safe to call from any thread.
    func abort(reason: String)
}
