import CErnieCUDA
import ErnieModel

/// The `Communicator` of a tensor-parallel rank on a GPU: NCCL collectives enqueued on the backend's stream.
///
/// Nothing here waits for the GPU: the all-reduce runs in place on the activation, the gather is an `ncclAllGather`
/// into a pool buffer followed by one strided device copy per rank (`cuMemcpy2DAsync`), all on the backend's stream.
/// The all-reduces of a decode step's body are captured in its CUDA graph together with the kernels around them
/// (NCCL ≥ 2.9; capture in `cudaStreamCaptureModeThreadLocal` with one thread per GPU); joining the group also makes
/// the backend agree with its peers on every graph decision (`GraphAgreement`).
public final class NCCLCommunicator: Communicator {
    public typealias Device = CUDABackend

    public let rank: Int
    public var worldSize: Int { comm.group.worldSize }
    let comm: NCCLComm
    let backend: CUDABackend
    private let memcpy2D: ernie_cuMemcpy2DAsync_fn

    /// Joins `group` as `rank` on `backend`'s device (made current on the calling thread). Blocks until every rank
    /// of the group has joined, so all ranks must call this concurrently, each on its own thread.
    public init(group: NCCLGroup, rank: Int, backend: CUDABackend) throws {
        try backend.device.makeCurrent()
        memcpy2D = try backend.device.api.library.function("cuMemcpy2DAsync_v2")
        comm = try NCCLComm(group: group, rank: rank)
        self.rank = rank
        self.backend = backend
        backend.joinGraphAgreement(rendezvous: group.graphRendezvous, rank: rank)
    }

    deinit {
        // ncclCommDestroy (in NCCLComm's deinit, after this) needs the device's context current, and waits until
        // every graph holding this communicator's collectives is destroyed: drop the backend's graphs first.
        try? backend.device.makeCurrent()
        backend.releaseGraphs()
    }

    private func ncclType(_ type: CUDAElementType) throws -> ernie_ncclDataType {
        switch type {
        case .bfloat16: ernie_ncclDataType(ERNIE_NCCL_BFLOAT16)
        case .float32: ernie_ncclDataType(ERNIE_NCCL_FLOAT32)
        case .int32: throw NCCLError.invalidArgument("collectives on int32 tensors are not used")
        }
    }

    /// Sums `x` over the ranks in place. Inside a decode step's body it is a launch like the kernels around it
    /// (recorded, captured in the step's CUDA graph, replayed); in a step that runs through a graph it sums the
    /// padded rows the graph's kernels process, otherwise the real rows.
    public func allReduceSum(_ x: CUDATensor) throws -> CUDATensor {
        let type = try ncclType(x.elementType)
        let comm = self.comm
        try backend.bodyOp {
            let count = (backend.bodyRunsAsGraph ? x.launchRows : x.rows) * x.columns
            guard count > 0 else { return }
            let address = x.address
            let bytes = count * x.elementType.byteSize
            try backend.submit(
                QueuedLaunch(
                    signature: [0x6E63_636C_4152, address, UInt64(count), UInt64(type)], label: "nccl all-reduce",
                    cost: OpCost(bytes: Double(2 * bytes))
                ) { stream, _ in
                    try comm.allReduceSum(address: address, count: count, type: type, stream: stream.handle)
                })
        }
        return x
    }

    /// Gathers the ranks' logit shards (outside the body: after the last layer, never in a graph): an
    /// `ncclAllGather` into a pool buffer, then one strided copy per rank into the full rows.
    public func allGatherColumns(_ x: CUDATensor, widths: [Int]) throws -> CUDATensor {
        let world = worldSize
        guard widths.count == world, widths.allSatisfy({ $0 >= 0 && $0 <= x.columns }) else {
            throw NCCLError.invalidArgument("all-gather widths \(widths) for \(world) ranks of \(x.columns) columns")
        }
        let type = try ncclType(x.elementType)
        let total = widths.reduce(0, +)
        let size = x.elementType.byteSize
        let gathered = try backend.makeTensor(
            rows: world * x.rows, columns: x.columns, x.elementType, "all-gathered logits shards")
        let out = try backend.makeTensor(rows: x.rows, columns: total, x.elementType, "gathered logits")
        guard x.rows > 0, total > 0 else { return out }
        let (comm, memcpy2D, api) = (self.comm, self.memcpy2D, backend.device.api)
        let (source, staging, destination) = (x.address, gathered.address, out.address)
        let (rows, columns) = (x.rows, x.columns)
        try backend.submit(
            QueuedLaunch(
                signature: [0x6E63_636C_4147, source, staging, destination, UInt64(rows), UInt64(columns)],
                label: "nccl all-gather (logits)", cost: OpCost(bytes: Double(2 * world * rows * columns * size))
            ) { stream, _ in
                try comm.allGather(
                    send: source, receive: staging, count: rows * columns, type: type, stream: stream.handle)
                var column = 0
                for (r, width) in widths.enumerated() {
                    defer { column += width }
                    guard width > 0 else { continue }
                    var copy = ernie_CUDA_MEMCPY2D()
                    copy.srcMemoryType = ERNIE_CU_MEMORYTYPE_DEVICE
                    copy.srcDevice = staging + UInt64(r * rows * columns * size)
                    copy.srcPitch = columns * size
                    copy.dstMemoryType = ERNIE_CU_MEMORYTYPE_DEVICE
                    copy.dstDevice = destination + UInt64(column * size)
                    copy.dstPitch = total * size
                    copy.WidthInBytes = width * size
                    copy.Height = rows
                    try api.check(memcpy2D(&copy, stream.handle), "cuMemcpy2DAsync_v2")
                }
            })
        try comm.checkAsyncError()
        return out
    }

    public func abort(reason: String) {
        comm.group.abortAll(reason: reason)
    }
}
