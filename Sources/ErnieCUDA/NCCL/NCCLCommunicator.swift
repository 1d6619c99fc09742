import CErnieCUDA
import ErnieModel

/// The `Communicator` of a tensor-parallel rank on a GPU: NCCL collectives enqueued on the backend's stream.
///
/// Nothing here waits for the GPU or the host: the all-reduce runs in place on the activation, the gather is an
/// `ncclAllGather` into a pool buffer followed by one strided device copy per rank (`cuMemcpy2DAsync`), all on the
/// backend's stream, so the collectives can be captured in CUDA graphs together with the kernels around them (NCCL
/// ≥ 2.9; capture in `cudaStreamCaptureModeThreadLocal` with one thread per GPU).
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
    }

    deinit {
        // ncclCommDestroy (in NCCLComm's deinit) needs the device's context current.
        try? backend.device.makeCurrent()
    }

    private func ncclType(_ type: CUDAElementType) throws -> ernie_ncclDataType {
        switch type {
        case .bfloat16: ernie_ncclDataType(ERNIE_NCCL_BFLOAT16)
        case .float32: ernie_ncclDataType(ERNIE_NCCL_FLOAT32)
        case .int32: throw NCCLError.invalidArgument("collectives on int32 tensors are not used")
        }
    }

    public func allReduceSum(_ x: CUDATensor) throws -> CUDATensor {
        let count = x.rows * x.columns
        guard count > 0 else { return x }
        try comm.allReduceSum(
            address: x.address, count: count, type: try ncclType(x.elementType), stream: backend.stream.handle)
        return x
    }

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
        try comm.allGather(
            send: x.address, receive: gathered.address, count: x.rows * x.columns, type: type,
            stream: backend.stream.handle)
        var column = 0
        for (r, width) in widths.enumerated() {
            defer { column += width }
            guard width > 0 else { continue }
            var copy = ernie_CUDA_MEMCPY2D()
            copy.srcMemoryType = ERNIE_CU_MEMORYTYPE_DEVICE
            copy.srcDevice = gathered.address + UInt64(r * x.rows * x.columns * size)
            copy.srcPitch = x.columns * size
            copy.dstMemoryType = ERNIE_CU_MEMORYTYPE_DEVICE
            copy.dstDevice = out.address + UInt64(column * size)
            copy.dstPitch = total * size
            copy.WidthInBytes = width * size
            copy.Height = x.rows
            try backend.device.api.check(memcpy2D(&copy, backend.stream.handle), "cuMemcpy2DAsync_v2")
        }
        try comm.checkAsyncError()
        return out
    }

    public func abort(reason: String) {
        comm.group.abortAll(reason: reason)
    }
}
