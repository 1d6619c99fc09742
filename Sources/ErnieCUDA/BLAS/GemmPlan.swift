import CErnieCUDA

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

    init(m: Int, n: Int, k: Int, output: GemmOutput, alignment: Int, batch: Int = 1) {
        self.m = m
        self.n = n
        self.k = k
        self.output = output
        self.alignment = alignment
        self.batch = batch
    }

    /// The key `CuBLASLt.gemm` files the plan of `Y[rows, outFeatures] = X · Wᵀ` under, its operands starting at
    /// `addresses` (x, weight, output; the row strides, and a strided batch's matrix strides, count too).
    init(rows: Int, outFeatures: Int, inFeatures: Int, output: GemmOutput, addresses: [UInt64], batch: Int = 1) {
        let outBytes = output == .bfloat16 ? 2 : 4
        var aligned = addresses + [UInt64(inFeatures * 2), UInt64(outFeatures * outBytes)]
        if batch > 1 {
            aligned += [
                UInt64(outFeatures * inFeatures * 2), UInt64(rows * inFeatures * 2),
                UInt64(rows * outFeatures * outBytes),
            ]
        }
        self.init(
            m: outFeatures, n: rows, k: inFeatures, output: output, alignment: Self.alignment(of: aligned),
            batch: batch)
    }

    static func alignment(of values: [UInt64]) -> Int {
        var alignment = 256
        for address in values {
            while alignment > 1 && address % UInt64(alignment) != 0 { alignment /= 2 }
        }
        return alignment
    }
}

/// The matmul and matrix-layout descriptors of one shape, destroyed with it. Used by one thread at a time.
final class GemmDescriptors {
    let api: CuBLASLtAPI
    let desc: ernie_cublasLtMatmulDesc
    let a: ernie_cublasLtMatrixLayout
    let b: ernie_cublasLtMatrixLayout
    let c: ernie_cublasLtMatrixLayout

    init(api: CuBLASLtAPI, shape: GemmShape) throws {
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
        self.desc = desc!
        a = try layout(bf16, shape.k, shape.m, shape.k)
        b = try layout(bf16, shape.k, shape.n, shape.k)
        c = try layout(shape.output.cudaType, shape.m, shape.n, shape.m)
    }

    deinit {
        _ = api.matrixLayoutDestroy(a)
        _ = api.matrixLayoutDestroy(b)
        _ = api.matrixLayoutDestroy(c)
        _ = api.matmulDescDestroy(desc)
    }

    /// The heuristic's usable algorithms for `shape` (these descriptors'), best first, at most `candidates`.
    func heuristic(
        handle: ernie_cublasLtHandle, shape: GemmShape, workspaceBytes: Int, candidates: Int
    ) throws -> [ernie_cublasLtMatmulAlgo] {
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
        guard !usable.isEmpty else {
            throw CUDAError.cublas(
                call: "cublasLtMatmulAlgoGetHeuristic(\(shape))", code: results.first?.state ?? 0,
                name: "NO_ALGORITHM",
                message: "cuBLASLt found no algorithm for this GEMM"
            )
        }
        return usable.map(\.algo)
    }
}

/// Descriptors and the algorithm for one shape.
final class GemmPlan {
    let descriptors: GemmDescriptors
    /// The algorithm every call uses: the heuristic's first choice, or the fastest candidate once tuned.
    var algo: ernie_cublasLtMatmulAlgo
    /// The heuristic's algorithms in its order (one unless the shape is tuned).
    let candidates: [ernie_cublasLtMatmulAlgo]
    var tuned = false
    /// The algorithm came from another row count's heuristic query (`CuBLASLt.sharedPlan`).
    let borrowed: Bool

    var desc: ernie_cublasLtMatmulDesc { descriptors.desc }
    var a: ernie_cublasLtMatrixLayout { descriptors.a }
    var b: ernie_cublasLtMatrixLayout { descriptors.b }
    var c: ernie_cublasLtMatrixLayout { descriptors.c }

    /// Asks the heuristic for up to `candidates` algorithms.
    init(
        api: CuBLASLtAPI, handle: ernie_cublasLtHandle, shape: GemmShape, workspaceBytes: Int, candidates: Int = 1
    ) throws {
        descriptors = try GemmDescriptors(api: api, shape: shape)
        self.candidates = try descriptors.heuristic(
            handle: handle, shape: shape, workspaceBytes: workspaceBytes, candidates: candidates)
        algo = self.candidates[0]
        borrowed = false
    }

    /// `algorithm` without asking the heuristic: the heuristic's answer for this very shape (asked ahead,
    /// `CuBLASLt.prepare`), or, `borrowed`, another row count's.
    init(api: CuBLASLtAPI, shape: GemmShape, algorithm: ernie_cublasLtMatmulAlgo, borrowed: Bool) throws {
        descriptors = try GemmDescriptors(api: api, shape: shape)
        algo = algorithm
        candidates = [algorithm]
        self.borrowed = borrowed
    }
}
