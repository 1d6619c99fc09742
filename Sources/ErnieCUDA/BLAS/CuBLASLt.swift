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
    /// Families (n = 0) whose plans exist for every row count up to the value (`prepare`).
    private var preparedRows: [GemmShape: Int] = [:]

    static let workspaceBytes = 32 << 20

    init(device: CUDADevice) throws {
        api = try CuBLASLtAPI.shared()
        var handle: ernie_cublasLtHandle?
        try api.check(api.create(&handle), "cublasLtCreate")
        guard let handle else { throw CUDAError.invalidArgument("cublasLtCreate returned no handle") }
        self.handle = handle
        workspace = try DeviceBuffer(device: device, byteCount: Self.workspaceBytes, label: "cuBLASLt workspace")
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
        let outBytes = outputType == .bfloat16 ? 2 : 4
        var aligned: [UInt64] = [x, weight, output, UInt64(inFeatures * 2), UInt64(outFeatures * outBytes)]
        if batch > 1 {
            aligned += [
                UInt64(outFeatures * inFeatures * 2), UInt64(rows * inFeatures * 2), UInt64(rows * outFeatures * outBytes),
            ]
        }
        let shape = GemmShape(
            m: outFeatures, n: rows, k: inFeatures, output: outputType, alignment: GemmShape.alignment(of: aligned),
            batch: batch
        )
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
        let plan = try GemmPlan(
            api: api, handle: handle, shape: shape, workspaceBytes: workspace.byteCount, algorithm: source.algo)
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
        let started = DispatchTime.now().uptimeNanoseconds
        let plan = try GemmPlan(
            api: api, handle: handle, shape: shape, workspaceBytes: workspace.byteCount, candidates: candidates)
        heuristicQueries += 1
        heuristicSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        plans[shape] = plan
        return plan
    }

    /// Asks the heuristic now, once, for every row count up to `rows` of `family` (its m, k, output type and alignment;
    /// its n is ignored), so later GEMMs of those shapes find their plan cached. The host-grouped MoE's per-expert
    /// GEMMs take row counts that change with every prompt, and a query costs the host more than such a GEMM costs
    /// the GPU; the plans are the same as the queries on first use would make.
    /// Rows 1 ... `rows` are asked for the first time a family needs them, more when a larger step comes.
    func prepare(family: GemmShape, upTo rows: Int) throws {
        var key = family
        key.n = 0
        let done = preparedRows[key] ?? 0
        guard rows > done else { return }
        var shape = family
        for n in (done + 1)...rows {
            shape.n = n
            _ = try plan(for: shape, candidates: 1)
        }
        preparedRows[key] = rows
    }

    var cachedPlanCount: Int { plans.count }
    /// "gemm plans: …" for bench output.
    var planSummary: String {
        String(
            format: "gemm plans: %d cached, %d heuristic queries in %.1f ms (%.1f µs each)", plans.count,
            heuristicQueries, heuristicSeconds * 1000, heuristicQueries > 0 ? heuristicSeconds / Double(heuristicQueries) * 1e6 : 0)
    }
    /// Plans whose algorithm came from their row-count bucket's heuristic query.
    var borrowedPlanCount: Int { plans.values.filter(\.borrowed).count }
    /// Plans whose algorithm was chosen by timing several candidates.
    var tunedPlanCount: Int { plans.values.filter { $0.tuned && $0.candidates.count > 1 }.count }
}

/// The cache key of a GEMM plan (column-major m × n × k) plus the pointer alignment the algorithm may assume.
struct GemmShape: Hashable, CustomStringConvertible {
    var m: Int
    var n: Int
    var k: Int
    var output: GemmOutput
    /// Largest power of two ≤ 256 dividing every operand address and row stride in bytes (cuBLASLt assumes 256 unless
    /// told otherwise; expert sub-matrices and row blocks are often only 16-byte aligned).
    var alignment: Int
    /// Matrices of a strided batch (packed: strides m·k, n·k and m·n elements for A, B and C).
    var batch = 1

    var description: String {
        "m=\(m) n=\(n) k=\(k) out=\(output) align=\(alignment)\(batch > 1 ? " batch=\(batch)" : "")"
    }

    static func alignment(of values: [UInt64]) -> Int {
        var alignment = 256
        for address in values {
            while alignment > 1 && address % UInt64(alignment) != 0 { alignment /= 2 }
        }
        return alignment
    }
}

/// Descriptors and the heuristic's algorithm for one shape.
final class GemmPlan {
    let api: CuBLASLtAPI
    let desc: ernie_cublasLtMatmulDesc
    let a: ernie_cublasLtMatrixLayout
    let b: ernie_cublasLtMatrixLayout
    let c: ernie_cublasLtMatrixLayout
    /// The algorithm every call uses: the heuristic's first choice, or the fastest candidate once tuned.
    var algo: ernie_cublasLtMatmulAlgo
    /// The heuristic's algorithms in its order (one unless the shape is tuned).
    let candidates: [ernie_cublasLtMatmulAlgo]
    var tuned = false
    /// The algorithm came from another row count's heuristic query (`CuBLASLt.sharedPlan`).
    let borrowed: Bool

    /// `algorithm`: use it instead of asking the heuristic.
    init(
        api: CuBLASLtAPI, handle: ernie_cublasLtHandle, shape: GemmShape, workspaceBytes: Int, candidates: Int = 1,
        algorithm: ernie_cublasLtMatmulAlgo? = nil
    ) throws {
        borrowed = algorithm != nil
        self.api = api
        var desc: ernie_cublasLtMatmulDesc?
        try api.check(
            api.matmulDescCreate(&desc, Int32(ERNIE_CUBLAS_COMPUTE_32F), Int32(ERNIE_CUDA_R_32F)),
            "cublasLtMatmulDescCreate"
        )
        var transA = Int32(ERNIE_CUBLAS_OP_T)
        var transB = Int32(ERNIE_CUBLAS_OP_N)
        try api.check(
            api.matmulDescSetAttribute(desc, Int32(ERNIE_CUBLASLT_MATMUL_DESC_TRANSA), &transA, 4),
            "cublasLtMatmulDescSetAttribute(TRANSA)"
        )
        try api.check(
            api.matmulDescSetAttribute(desc, Int32(ERNIE_CUBLASLT_MATMUL_DESC_TRANSB), &transB, 4),
            "cublasLtMatmulDescSetAttribute(TRANSB)"
        )
        let bf16 = Int32(ERNIE_CUDA_R_16BF)
        func layout(_ type: Int32, _ rows: Int, _ cols: Int, _ ld: Int) throws -> ernie_cublasLtMatrixLayout {
            var layout: ernie_cublasLtMatrixLayout?
            try api.check(
                api.matrixLayoutCreate(&layout, type, UInt64(rows), UInt64(cols), Int64(ld)),
                "cublasLtMatrixLayoutCreate(\(rows)x\(cols), ld \(ld))"
            )
            if shape.batch > 1 {
                var count = Int32(shape.batch)
                var stride = Int64(rows * cols)
                try api.check(
                    api.matrixLayoutSetAttribute(layout, Int32(ERNIE_CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT), &count, 4),
                    "cublasLtMatrixLayoutSetAttribute(BATCH_COUNT \(count))"
                )
                try api.check(
                    api.matrixLayoutSetAttribute(
                        layout, Int32(ERNIE_CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET), &stride, 8),
                    "cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET \(stride))"
                )
            }
            return layout!
        }
        let a = try layout(bf16, shape.k, shape.m, shape.k)
        let b = try layout(bf16, shape.k, shape.n, shape.k)
        let c = try layout(shape.output.cudaType, shape.m, shape.n, shape.m)
        self.desc = desc!
        self.a = a
        self.b = b
        self.c = c
        if let algorithm {
            self.algo = algorithm
            self.candidates = [algorithm]
            return
        }
        var preference: ernie_cublasLtMatmulPreference?
        try api.check(api.preferenceCreate(&preference), "cublasLtMatmulPreferenceCreate")
        defer { _ = api.preferenceDestroy(preference) }
        var maxWorkspace = UInt64(workspaceBytes)
        try api.check(
            api.preferenceSetAttribute(
                preference, Int32(ERNIE_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES), &maxWorkspace, 8),
            "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)"
        )
        var alignment = UInt32(shape.alignment)
        for attribute in [
            ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
            ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
        ] {
            try api.check(
                api.preferenceSetAttribute(preference, Int32(attribute), &alignment, 4),
                "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT \(attribute))"
            )
        }
        let requested = max(1, candidates)
        var results = [ernie_cublasLtMatmulHeuristicResult](
            repeating: ernie_cublasLtMatmulHeuristicResult(), count: requested)
        var returned: Int32 = 0
        try api.check(
            api.algoGetHeuristic(handle, desc, a, b, c, c, preference, Int32(requested), &results, &returned),
            "cublasLtMatmulAlgoGetHeuristic(\(shape))"
        )
        let usable = results.prefix(Int(max(0, min(returned, Int32(requested))))).filter { $0.state == 0 }
        guard let result = usable.first else {
            throw CUDAError.cublas(
                call: "cublasLtMatmulAlgoGetHeuristic(\(shape))", code: results.first?.state ?? 0,
                name: "NO_ALGORITHM",
                message: "cuBLASLt found no algorithm for this GEMM"
            )
        }
        self.algo = result.algo
        self.candidates = usable.map(\.algo)
    }

    deinit {
        _ = api.matrixLayoutDestroy(a)
        _ = api.matrixLayoutDestroy(b)
        _ = api.matrixLayoutDestroy(c)
        _ = api.matmulDescDestroy(desc)
    }
}
