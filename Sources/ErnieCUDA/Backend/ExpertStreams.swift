/// Streams beside the backend's own for the routed experts' GEMMs of a host-grouped MoE step (steps of more than
/// `PerfOptions.groupedMoEMaxTokens` tokens: prefills). Each expert's GEMM covers only that expert's rows — about 770
/// rows per expert in an 8192-token prefill with even routing, 60–72 output tiles of cuBLASLt's kernels, about half
/// of an H200's 132 multiprocessors, and with skewed routing many GEMMs of a handful of rows — so on one stream the
/// GPU runs them one after another, each leaving multiprocessors idle. On several streams they run side by side.
///
/// Experts are dealt to the lanes longest first, each to the lane with the least work so far (`assign`). Only for
/// eager steps: nothing here is captured in a graph. Ordering: the lanes wait for the backend's stream at `fork`, the
/// backend's stream waits for the lanes at `join`; between the two the caller queues nothing on the backend's
/// stream, and every buffer the lanes touch must outlive the join (the activation pool reuses buffers in the
/// backend's stream order).
///
/// The streams live for one step (`open`, `close` at the step's end; the cuBLASLt workspaces stay), tried against a
/// side effect: after prefills on the streams the server's decode steps measured 3.07–3.10 ms against 3.01–3.02 per
/// token at one stream on the H200 (1K/1K, BENCHMARKS.md round 9). Streams per step and streams kept
/// (`ERNIE_CUDA_MOE_EXPERT_STREAMS_KEEP`) measured the same (3.08 / 3.07 ms), so the lifetime is not the cause;
/// `PerfOptions.moeExpertStreamsMinTokens` bounds the effect instead.
final class ExpertStreams {
    private(set) var lanes: [CUDAStream] = []
    let count: Int
    private let device: CUDADevice
    private let blas: CuBLASLt
    private let workspaces: [DeviceBuffer]
    private let forked: CUDAEvent
    private let joined: [CUDAEvent]

    /// Rows a GEMM's fixed cost is worth in `assign`'s balance: reading an expert's gate|up weight (15.7 MB for
    /// ERNIE-4.5-21B-A3B) takes about as long as 128 rows of its tensor-core work on the H200.
    static let fixedRows = 128

    init(device: CUDADevice, count: Int, blas: CuBLASLt) throws {
        precondition(count > 0)
        self.count = count
        self.device = device
        self.blas = blas
        workspaces = try (0..<count).map { _ in try blas.makeWorkspace(device: device) }
        forked = try CUDAEvent(device: device, timing: false)
        joined = try (0..<count).map { _ in try CUDAEvent(device: device, timing: false) }
    }

    /// Makes the lanes if this step has none yet.
    func open() throws {
        guard lanes.isEmpty else { return }
        lanes = try (0..<count).map { _ in try CUDAStream(device: device) }
        for (lane, workspace) in zip(lanes, workspaces) { blas.setWorkspace(workspace, for: lane) }
    }

    /// Destroys the lanes (their work must be done: the backend's stream waited for it at `join` and has been
    /// synchronized) unless `keep`.
    func close(keep: Bool) {
        guard !keep, !lanes.isEmpty else { return }
        for lane in lanes { blas.removeWorkspace(for: lane) }
        lanes = []
    }

    /// Every lane in `used` waits for the work queued on `main` so far.
    func fork(from main: CUDAStream, lanes used: Set<Int>) throws {
        try forked.record(on: main)
        for i in used.sorted() { try lanes[i].wait(for: forked) }
    }

    /// Work queued on `main` from now on waits for the work queued on the lanes in `used`.
    func join(into main: CUDAStream, lanes used: Set<Int>) throws {
        for i in used.sorted() {
            try joined[i].record(on: lanes[i])
            try main.wait(for: joined[i])
        }
    }

    /// The lane of each GEMM, given the GEMMs' row counts: longest first (ties: lower index first), each to the lane
    /// with the least work so far (ties: lower lane), a GEMM's work being its rows plus `fixedRows`. Deterministic.
    static func assign(rows: [Int], lanes: Int) -> [Int] {
        precondition(lanes > 0)
        var lane = [Int](repeating: 0, count: rows.count)
        guard lanes > 1 else { return lane }
        var load = [Int](repeating: 0, count: lanes)
        let order = rows.indices.sorted { rows[$0] != rows[$1] ? rows[$0] > rows[$1] : $0 < $1 }
        for i in order {
            var best = 0
            for l in 1..<lanes where load[l] < load[best] { best = l }
            lane[i] = best
            load[best] += rows[i] + fixedRows
        }
        return lane
    }
}
