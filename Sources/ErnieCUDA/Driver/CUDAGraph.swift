import CErnieCUDA

/// An instantiated CUDA graph (`cuGraphInstantiateWithFlags`), captured from the work `body` queues on a stream.
final class CUDAGraph {
    let device: CUDADevice
    let exec: ernie_CUgraphExec
    /// Operations recorded (kernel launches, library calls) — for reports.
    let nodeCount: Int

    private init(device: CUDADevice, exec: ernie_CUgraphExec, nodeCount: Int) {
        self.device = device
        self.exec = exec
        self.nodeCount = nodeCount
    }

    deinit {
        _ = device.api.cuGraphExecDestroy(exec)
    }

    /// Captures what `body` queues on `stream` (thread-local capture mode, so other threads' CUDA calls do not
    /// invalidate it) and instantiates it. `body` must not synchronise or copy to the host.
    static func capture(
        on stream: CUDAStream, nodeCount: Int, _ body: (CUDAStream) throws -> Void
    ) throws -> CUDAGraph {
        let api = stream.device.api
        try api.check(
            api.cuStreamBeginCapture(stream.handle, Int32(ERNIE_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)),
            "cuStreamBeginCapture_v2"
        )
        var bodyError: (any Error)?
        do {
            try body(stream)
        } catch {
            bodyError = error
        }
        var graph: ernie_CUgraph?
        let ended = api.cuStreamEndCapture(stream.handle, &graph)
        if let bodyError {
            if let graph { _ = api.cuGraphDestroy(graph) }
            throw bodyError
        }
        try api.check(ended, "cuStreamEndCapture")
        guard let graph else { throw CUDAError.invalidArgument("cuStreamEndCapture returned no graph") }
        defer { _ = api.cuGraphDestroy(graph) }
        var exec: ernie_CUgraphExec?
        try api.check(api.cuGraphInstantiateWithFlags(&exec, graph, 0), "cuGraphInstantiateWithFlags")
        guard let exec else { throw CUDAError.invalidArgument("cuGraphInstantiateWithFlags returned nothing") }
        let instance = CUDAGraph(device: stream.device, exec: exec, nodeCount: nodeCount)
        try api.check(api.cuGraphUpload(exec, stream.handle), "cuGraphUpload")
        return instance
    }

    /// Queues the whole graph on `stream`.
    func launch(on stream: CUDAStream) throws {
        try device.api.check(device.api.cuGraphLaunch(exec, stream.handle), "cuGraphLaunch")
    }
}
