import CErnieCUDA
import ErnieModel
import Foundation
import Synchronization

/// The state shared by the communicators of one NCCL group: the unique id and the abort switch.
///
/// A rank that fails aborts every communicator of the group (`ncclCommAbort`), so peers whose collectives wait for
/// it stop instead of hanging; afterwards every communicator refuses further calls.
public final class NCCLGroup: Sendable {
    public let worldSize: Int
    public let uniqueID: NCCLUniqueID
    let library: NCCLLibrary
    /// Where the ranks' backends compare their CUDA-graph decisions (`GraphAgreement`); poisoned by `abortAll`.
    let graphRendezvous: RankRendezvous

    private struct State {
        /// Live communicator handles by rank (bit patterns of `ncclComm_t`).
        var handles: [Int: UInt] = [:]
        var abortReason: String?
    }

    private let state = Mutex(State())

    /// A new group of `worldSize` ranks with a fresh unique id.
    public convenience init(worldSize: Int, library: NCCLLibrary? = nil) throws {
        let library = try library ?? NCCLLibrary.shared()
        try self.init(worldSize: worldSize, uniqueID: library.uniqueID(), library: library)
    }

    /// A group joining an existing unique id (e.g. one created by another process).
    public init(worldSize: Int, uniqueID: NCCLUniqueID, library: NCCLLibrary) throws {
        guard worldSize >= 1 else { throw NCCLError.invalidArgument("an NCCL group needs at least one rank") }
        self.worldSize = worldSize
        self.uniqueID = uniqueID
        self.library = library
        graphRendezvous = RankRendezvous(parties: worldSize)
    }

    /// Why the group was aborted, if it was.
    public var abortReason: String? { state.withLock { $0.abortReason } }

    func register(rank: Int, handle: ernie_ncclComm) {
        state.withLock { $0.handles[rank] = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle))) }
    }

    /// Removes `rank`'s handle; false when the group was aborted (the handle is already gone).
    func unregister(rank: Int) -> Bool {
        state.withLock { state in
            state.handles[rank] = nil
            return state.abortReason == nil
        }
    }

    /// Throws when the group was aborted.
    func checkNotAborted() throws {
        if let reason = abortReason { throw NCCLError.aborted(reason) }
    }

    /// Aborts every live communicator of the group (first reason wins) and releases ranks waiting at a graph
    /// agreement.
    ///
    /// `ncclCommAbort` first flags the communicator, which ends its kernels still waiting for peers, then waits
    /// until every CUDA graph that captured its collectives is destroyed (NCCL ≥ 2.26). Those graphs belong to the
    /// ranks' backends and are only released when the group is torn down, so the aborts run on a thread of their
    /// own instead of blocking the caller (a rank thread whose peers may be stuck until the abort lands).
    func abortAll(reason: String) {
        let handles: [UInt] = state.withLock { state in
            guard state.abortReason == nil else { return [] }
            state.abortReason = reason
            defer { state.handles = [:] }
            return Array(state.handles.values)
        }
        graphRendezvous.poison(reason)
        guard !handles.isEmpty else { return }
        let abort = library.api.commAbort
        let thread = Thread {
            for bits in handles {
                guard let handle = OpaquePointer(bitPattern: bits) else { continue }
                _ = abort(handle)
            }
        }
        thread.name = "ernie-nccl-abort"
        thread.start()
    }
}

/// One rank's NCCL communicator handle (host side: creation, the collective calls, errors, teardown).
final class NCCLComm {
    let group: NCCLGroup
    let rank: Int
    let handle: ernie_ncclComm
    private var api: NCCLAPI { group.library.api }

    /// `ncclCommInitRank` for `rank` of `group` on the calling thread's current CUDA device; blocks until every rank
    /// of the group has called it.
    init(group: NCCLGroup, rank: Int) throws {
        guard rank >= 0, rank < group.worldSize else {
            throw NCCLError.invalidArgument("rank \(rank) outside a group of \(group.worldSize)")
        }
        try group.checkNotAborted()
        var id = group.uniqueID.cValue
        var comm: ernie_ncclComm?
        let result = ernie_nccl_comm_init_rank(group.library.api.commInitRank, &comm, Int32(group.worldSize), &id, Int32(rank))
        try group.library.check(result, "ncclCommInitRank(rank \(rank) of \(group.worldSize))", comm: nil)
        guard let comm else {
            throw NCCLError.call(
                name: "ncclCommInitRank", code: 3, message: "returned no communicator", detail: nil)
        }
        self.group = group
        self.rank = rank
        handle = comm
        group.register(rank: rank, handle: comm)
    }

    deinit {
        if group.unregister(rank: rank) { _ = api.commDestroy(handle) }
    }

    /// In-place sum of `count` elements at `address` on `stream`.
    func allReduceSum(address: UInt64, count: Int, type: ernie_ncclDataType, stream: ernie_CUstream?) throws {
        try group.checkNotAborted()
        let pointer = UnsafeMutableRawPointer(bitPattern: UInt(address))
        try group.library.check(
            api.allReduce(pointer, pointer, count, type, ernie_ncclRedOp(ERNIE_NCCL_SUM), handle, stream),
            "ncclAllReduce(\(count) elements)", comm: handle)
    }

    /// Gathers `count` elements from every rank into `receive` (rank r's at `r·count`), on `stream`.
    func allGather(send: UInt64, receive: UInt64, count: Int, type: ernie_ncclDataType, stream: ernie_CUstream?)
        throws
    {
        try group.checkNotAborted()
        try group.library.check(
            api.allGather(
                UnsafeRawPointer(bitPattern: UInt(send)), UnsafeMutableRawPointer(bitPattern: UInt(receive)), count,
                type, handle, stream),
            "ncclAllGather(\(count) elements per rank)", comm: handle)
    }

    /// Throws when a collective of this communicator failed asynchronously.
    func checkAsyncError() throws {
        try group.checkNotAborted()
        var status: ernie_ncclResult = 0
        try group.library.check(api.commGetAsyncError(handle, &status), "ncclCommGetAsyncError", comm: handle)
        guard status == ERNIE_NCCL_SUCCESS || status == ERNIE_NCCL_IN_PROGRESS else {
            throw NCCLError.asynchronous(
                code: status, message: api.getErrorString(status).map { String(cString: $0) } ?? "unknown error")
        }
    }
}
