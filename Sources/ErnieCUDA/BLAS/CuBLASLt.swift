import Dispatch
import CErnieCUDA

/// Element type of a GEMM output.
enum GemmOutput: Hashable {
    case bfloat16
    case float32

    var cudaType: Int32 { self == .bfloat16 ? Int32(ERNIE_CUDA_R_16BF) : Int32(ERNIE_CUDA_R_32F) }
}

/// A cuBLASLt handle with a fixed workspace and one cached plan (descriptors + heuristic algorithm) per shape.
final class CuBLASLt {
    let api: CuBLASLtAPI
    let handle: ernie_cublasLtHandle
    let workspace: DeviceBuffer
    private var plans: [GemmShape: GemmPlan] = [:]
    /// Heuristic queries made so far and the host time they took.
    private(set) var heuristicQueries = 0
    private(set) var heuristicSeconds = 0.0
    /// Families (n = 0) asked for every row count up to the value (`prepare`).
    private var preparedRows: [GemmShape: Int] = [:]
    /// The heuristic's answers for shapes asked ahead (`prepare`), until their first GEMM makes a plan of them.
    private var preparedAlgorithms: [GemmShape: ernie_cublasLtMatmulAlgo] = [:]
    /// Workspaces of streams beside the backend's own (`setWorkspace(_:for:)`): GEMMs that may run at the same time on
    /// different streams must not share one. Other streams use `workspace`.
    private var streamWorkspaces: [ernie_CUstream: DeviceBuffer] = [:]

    static let workspaceBytes = 32 << 20

    init(device: CUDADevice) throws {
        api = try CuBLASLtAPI.shared()
        var handle: ernie_cublasLtHandle?
        try api.check(api.create(&handle), "cublasLtCreate")
        guard let handle else { throw CUDAError.invalidArgument("cublasLtCreate returned no handle") }
        self.handle = handle
        workspace = try DeviceBuffer(device: device, byteCount: Self.workspaceBytes, label: "cuBLASLt workspace")
    }

    /// A workspace for GEMMs on another stream (same size as the main one, so every plan fits it).
    func makeWorkspace(device: CUDADevice) throws -> DeviceBuffer {
        try DeviceBuffer(device: device, byteCount: workspace.byteCount, label: "cuBLASLt workspace (side stream)")
    }

    /// GEMMs issued on `stream` use `buffer` (from `makeWorkspace`) until `removeWorkspace(for:)`.
    func setWorkspace(_ buffer: DeviceBuffer, for stream: CUDAStream) {
        streamWorkspaces[stream.handle] = buffer
    }

    func removeWorkspace(for stream: CUDAStream) {
        streamWorkspaces[stream.handle] = nil
    }

    deinit {
        plans.removeAll()
        _ = api.destroy(handle)
    }

    /// `Y[rows, outFeatures] = X[rows, inFeatures] · W[outFeatures, inFeatures]ᵀ` with bf16 X and W (row-major),
    /// fp32 accumulation, output bf16 or fp32.
    ///
    /// Column-major view: `C(n × m) = Aᵀ · B` with A = W stored `k × n` (ld k), B = X stored `k × m` (ld k),
    /// C = Y stored `n × m` (ld n); transa = T, transb = N.
    ///
    /// `batch` > 1: a strided batch of that many independent products over consecutive, packed matrices — weight `i`
    /// at `weight + i·outFeatures·inFeatures`, its rows at `x + i·rows·inFeatures` and its output at
    /// `output + i·rows·outFeatures` (elements).
    func gemm(
        x: UInt64, weight: UInt64, output: UInt64, rows: Int, outFeatures: Int, inFeatures: Int, outputType: GemmOutput,
        batch: Int = 1, tune: Bool = false, shareAlgorithms: Bool = false, capturing: Bool = false,
        stream: CUDAStream
    ) throws {
        guard rows > 0, outFeatures > 0, batch > 0 else { return }
        guard inFeatures > 0, batch <= Int(Int32.max) else {
            throw CUDAError.invalidArgument("GEMM with inner dimension \(inFeatures), batch \(batch)")
        }
        let shape = GemmShape(
            rows: rows, outFeatures: outFeatures, inFeatures: inFeatures, output: outputType,
            addresses: [x, weight, output], batch: batch)
        let operands = (x: x, weight: weight, output: output)
        if tune {
            let plan = try self.plan(for: shape, candidates: Self.tuningCandidates)
            if !capturing, !plan.tuned { try self.tune(plan, operands: operands, stream: stream) }
            try api.check(run(plan, algo: plan.algo, operands: operands, stream: stream), "cublasLtMatmul(\(shape))")
            return
        }
        let plan = try shareAlgorithms ? sharedPlan(for: shape) : self.plan(for: shape, candidates: 1)
        let status = run(plan, algo: plan.algo, operands: operands, stream: stream)
        if status != 0, plan.borrowed {
            // The bucket's algorithm does not take this exact shape: ask the heuristic for it.
            let exact = try GemmPlan(api: api, handle: handle, shape: shape, workspaceBytes: workspace.byteCount)
            plans[shape] = exact
            try api.check(run(exact, algo: exact.algo, operands: operands, stream: stream), "cublasLtMatmul(\(shape))")
            return
        }
        try api.check(status, "cublasLtMatmul(\(shape))")
    }

    /// Row counts above this share their heuristic algorithm with the rest of their bucket.
    static let sharedAlgorithmMinimumRows = 64
    static let sharedAlgorithmBucketRows = 64

    /// A plan for `shape` whose algorithm is the heuristic's choice for its bucket — the row count rounded up to a
    /// multiple of `sharedAlgorithmBucketRows` — instead of a heuristic query of its own. The per-expert GEMMs of a
    /// host-grouped MoE step have row counts that change with every prompt, and a heuristic query per new shape
    /// costs more host time than the GEMM takes on the GPU. A shape the borrowed algorithm does not support falls
    /// back to its own query (`borrowed`).
    private func sharedPlan(for shape: GemmShape) throws -> GemmPlan {
        if let plan = plans[shape] { return plan }
        guard shape.n > Self.sharedAlgorithmMinimumRows, shape.batch == 1 else {
            return try plan(for: shape, candidates: 1)
        }
        var bucket = shape
        bucket.n = (shape.n + Self.sharedAlgorithmBucketRows - 1) / Self.sharedAlgorithmBucketRows
            * Self.sharedAlgorithmBucketRows
        let source = try plan(for: bucket, candidates: 1)
        guard bucket != shape else { return source }
        let plan = try GemmPlan(api: api, shape: shape, algorithm: source.algo, borrowed: true)
        plans[shape] = plan
        return plan
    }

    /// Heuristic candidates timed for a tuned shape.
    static let tuningCandidates = 8

    private func run(
        _ plan: GemmPlan, algo: ernie_cublasLtMatmulAlgo, operands: (x: UInt64, weight: UInt64, output: UInt64),
        stream: CUDAStream
    ) -> ernie_cublasStatus {
        let (x, weight, output) = operands
        let workspace = streamWorkspaces[stream.handle] ?? self.workspace
        var alpha: Float = 1
        var beta: Float = 0
        return withUnsafeBytes(of: algo) { algo in
            api.matmul(
                handle, plan.desc, &alpha, UnsafeRawPointer(bitPattern: UInt(weight)), plan.a,
                UnsafeRawPointer(bitPattern: UInt(x)), plan.b, &beta, UnsafeRawPointer(bitPattern: UInt(output)),
                plan.c,
                UnsafeMutableRawPointer(bitPattern: UInt(output)), plan.c,
                algo.baseAddress!.assumingMemoryBound(to: ernie_cublasLtMatmulAlgo.self),
                UnsafeMutableRawPointer(bitPattern: UInt(workspace.address)), workspace.byteCount, stream.handle
            )
        }
    }

    /// Times each of the plan's heuristic candidates on the call's own operands (the output is overwritten, then
    /// written again by the real call) and keeps the fastest. Before every timed run a buffer of twice the L2 size is
    /// cleared, so the weight comes from device memory as it does in a model step (timed back to back, an 18 MB
    /// weight stays in the H200's 60 MB L2 and the ranking favours the wrong kernels: measured, the first version of
    /// this tuning made decode steps slower). Waits for the stream; never while capturing. Failing candidates are
    /// skipped.
    private func tune(
        _ plan: GemmPlan, operands: (x: UInt64, weight: UInt64, output: UInt64), stream: CUDAStream
    ) throws {
        plan.tuned = true
        guard plan.candidates.count > 1 else { return }
        let flush = try DeviceBuffer(
            device: stream.device, byteCount: max(2 * stream.device.l2CacheBytes, 1 << 20), label: "L2 flush")
        let start = try CUDAEvent(device: stream.device)
        let end = try CUDAEvent(device: stream.device)
        var best: (ms: Double, algo: ernie_cublasLtMatmulAlgo)?
        for algo in plan.candidates {
            var total = 0.0
            var failed = false
            for _ in 0..<Self.tuningRepeats {
                try stream.fillZero(flush.address, byteCount: flush.byteCount)
                try start.record(on: stream)
                if run(plan, algo: algo, operands: operands, stream: stream) != 0 { failed = true }
                try end.record(on: stream)
                total += try end.milliseconds(since: start)
                if failed { break }
            }
            if !failed, total < best?.ms ?? .infinity { best = (total, algo) }
        }
        if let best { plan.algo = best.algo }
    }

    static let tuningRepeats = 5

    private func plan(for shape: GemmShape, candidates: Int) throws -> GemmPlan {
        if let plan = plans[shape] { return plan }
        let plan: GemmPlan
        if candidates == 1, let algorithm = preparedAlgorithms.removeValue(forKey: shape) {
            plan = try GemmPlan(api: api, shape: shape, algorithm: algorithm, borrowed: false)
        } else {
            let started = DispatchTime.now().uptimeNanoseconds
            plan = try GemmPlan(
                api: api, handle: handle, shape: shape, workspaceBytes: workspace.byteCount, candidates: candidates)
            heuristicQueries += 1
            heuristicSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        }
        plans[shape] = plan
        return plan
    }

    /// Asks the heuristic now for every row count 1 ... `rows` of each family (a shape whose n is ignored) not asked
    /// yet, on up to `threads` threads with `context` current and a cuBLASLt handle each; a later GEMM of one of those
    /// shapes then builds its plan from the answer without a query — the same plan a query on first use would give.
    /// The host-grouped MoE's per-expert GEMMs take row counts that change with every prompt, and a query costs the
    /// host 0.15–0.4 ms (H200, cuBLASLt 13), more than such a GEMM takes on the GPU. Shapes whose query fails are left
    /// to first use. Returns the number of queries made.
    @discardableResult
    func prepare(families: [GemmShape], upTo rows: Int, threads: Int, context: ContextBinder) -> Int {
        var shapes: [GemmShape] = []
        for family in families {
            var key = family
            key.n = 0
            let done = preparedRows[key] ?? 0
            guard rows > done else { continue }
            var shape = family
            for n in (done + 1)...rows {
                shape.n = n
                if plans[shape] == nil && preparedAlgorithms[shape] == nil { shapes.append(shape) }
            }
            preparedRows[key] = rows
        }
        guard !shapes.isEmpty else { return 0 }
        let started = DispatchTime.now().uptimeNanoseconds
        let answers = HeuristicAnswers(count: shapes.count)
        let workers = max(1, min(threads, shapes.count))
        let api = self.api
        let workspaceBytes = workspace.byteCount
        let all = shapes
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            // The heuristic answers for the current device: this backend's, on every worker thread.
            guard context.bind() else { return }
            var handle: ernie_cublasLtHandle?
            guard api.create(&handle) == 0, let handle else { return }
            defer { _ = api.destroy(handle) }
            for index in stride(from: worker, to: all.count, by: workers) {
                let shape = all[index]
                guard let descriptors = try? GemmDescriptors(api: api, shape: shape),
                    let algorithm = try? descriptors.heuristic(
                        handle: handle, shape: shape, workspaceBytes: workspaceBytes, candidates: 1
                    ).first
                else { continue }
                answers.set(index, algorithm)
            }
        }
        for (index, shape) in shapes.enumerated() {
            if let algorithm = answers.get(index) { preparedAlgorithms[shape] = algorithm }
        }
        heuristicQueries += shapes.count
        heuristicSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return shapes.count
    }

    var cachedPlanCount: Int { plans.count }

    /// Runs one GEMM of each distinct algorithm among the answers of `prepare` — on the shape with the fewest rows
    /// that chose it, scratch operands, at most `limit` algorithms — so the kernels behind them are loaded now: CUDA
    /// loads a kernel at its first launch, which otherwise falls on the first prompts whose routing needs it (a
    /// 2048-token prefill of a new prompt took 68.8 / 83.5 / 49.7 ms for the first three after loading against 50 ms
    /// steady, H200, round 8). Only answers for shapes `included` accepts. Waits for the stream. Returns the number of
    /// GEMMs run.
    @discardableResult
    func loadPreparedKernels(
        device: CUDADevice, stream: CUDAStream, limit: Int = 128, where included: (GemmShape) -> Bool = { _ in true }
    ) throws -> Int {
        func order(_ a: GemmShape, _ b: GemmShape) -> Bool { (a.n, a.m, a.k) < (b.n, b.m, b.k) }
        var first: [[UInt64]: GemmShape] = [:]
        for (shape, algorithm) in preparedAlgorithms.sorted(by: { order($0.key, $1.key) }) where included(shape) {
            let key = withUnsafeBytes(of: algorithm) { Array($0.bindMemory(to: UInt64.self)) }
            if first[key] == nil { first[key] = shape }
            if first.count == limit { break }
        }
        let shapes = first.values.sorted(by: order)
        guard !shapes.isEmpty else { return 0 }
        func scratch(_ label: String, _ bytes: (GemmShape) -> Int) -> DeviceBuffer? {
            try? DeviceBuffer(device: device, byteCount: shapes.map(bytes).max() ?? 0, label: "GEMM warm-up \(label)")
        }
        // Without room for the scratch operands the kernels load on first use instead, as without this.
        guard let x = scratch("input", { $0.n * $0.k * 2 }), let w = scratch("weight", { $0.m * $0.k * 2 }),
            let y = scratch("output", { $0.m * $0.n * 4 })
        else { return 0 }
        for shape in shapes {
            let plan = try plan(for: shape, candidates: 1)
            // A failure here is the first use's failure later: leave it to that call's error.
            _ = run(plan, algo: plan.algo, operands: (x.address, w.address, y.address), stream: stream)
        }
        try stream.synchronize()
        return shapes.count
    }

    /// Answers of `prepare` not yet turned into plans.
    var preparedAlgorithmCount: Int { preparedAlgorithms.count }
    /// "gemm plans: …" for bench output (the prepared queries' time is wall time over all their threads).
    var planSummary: String {
        String(
            format: "gemm plans: %d cached, %d prepared, %d heuristic queries in %.1f ms", plans.count,
            preparedAlgorithms.count, heuristicQueries, heuristicSeconds * 1000)
    }
    /// Plans whose algorithm came from their row-count bucket's heuristic query.
    var borrowedPlanCount: Int { plans.values.filter(\.borrowed).count }
    /// Plans whose algorithm was chosen by timing several candidates.
    var tunedPlanCount: Int { plans.values.filter { $0.tuned && $0.candidates.count > 1 }.count }
}

/// The answers of `CuBLASLt.prepare`'s worker threads, one slot per shape.
private final class HeuristicAnswers: @unchecked Sendable {
    // @unchecked: each slot is written by exactly one worker (the shapes are dealt out by index) and read only after
    // DispatchQueue.concurrentPerform has returned, which orders every worker's writes before the reads.
    private let slots: UnsafeMutablePointer<ernie_cublasLtMatmulAlgo?>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil, count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func set(_ index: Int, _ algorithm: ernie_cublasLtMatmulAlgo) { slots[index] = algorithm }
    func get(_ index: Int) -> ernie_cublasLtMatmulAlgo? { slots[index] }
}
