import ErnieModel

extension CUDABackend {
    public func embed(_ table: CUDAWeight) throws -> CUDATensor {
        try bodyOp {
            let step = try currentStep("embed")
            guard table.elementType == .bfloat16, table.shape.count == 2 else {
                throw CUDAError.invalidArgument(
                    "embedding table \(table.name) must be a bf16 matrix, got \(table.shape)")
            }
            if let bad = step.batch.tokens.first(where: { $0 < 0 || Int($0) >= table.rows }) {
                throw CUDAError.invalidArgument("token id \(bad) outside the embedding table (\(table.rows) rows)")
            }
            let out = try makeTensor(
                rows: step.tokenCount, launchRows: step.launchRows, columns: table.columns, .bfloat16, "embeddings")
            try gatherRows(
                source: table.address, rowIndices: step.tokens, count: step.launchRows, width: table.columns,
                into: out.address)
            return out
        }
    }

    public func gatherRows(_ x: CUDATensor, indices: [Int]) throws -> CUDATensor {
        try finishBody()
        try requireBF16(x, "gatherRows input")
        if let bad = indices.first(where: { $0 < 0 || $0 >= x.rows }) {
            throw CUDAError.invalidArgument("gatherRows index \(bad) outside 0..<\(x.rows)")
        }
        let out = try makeTensor(rows: indices.count, columns: x.columns, .bfloat16, "gathered rows")
        guard !indices.isEmpty else { return out }
        let device = try uploads.upload(indices.map { Int32($0) })
        try gatherRows(source: x.address, rowIndices: device, count: indices.count, width: x.columns, into: out.address)
        return out
    }

    func gatherRows(source: UInt64, rowIndices: UInt64, count: Int, width: Int, into destination: UInt64) throws {
        try launch(
            "ernie_gather_rows", LaunchConfiguration(grid: (count, 1, 1), block: (256, 1, 1)),
            cost: OpCost(bytes: Double(count * width * 4 + count * 4)), label: "gather rows"
        ) { args in
            args.pointer(source)
            args.pointer(rowIndices)
            args.pointer(destination)
            try args.int(width)
        }
    }

    public func addRMSNorm(
        _ x: CUDATensor, residual: CUDATensor?, weight: CUDAWeight, eps: Float
    ) throws
        -> (normed: CUDATensor, residual: CUDATensor)
    {
        try bodyOp {
            try requireBF16(x, "addRMSNorm input")
            if let residual {
                try requireBF16(residual, "addRMSNorm residual")
                guard residual.rows == x.rows, residual.columns == x.columns, residual.launchRows == x.launchRows
                else {
                    throw CUDAError.invalidArgument(
                        "addRMSNorm: residual [\(residual.rows), \(residual.columns)] vs x [\(x.rows), \(x.columns)]"
                    )
                }
            }
            guard weight.elementType == .bfloat16, weight.elementCount == x.columns else {
                throw CUDAError.invalidArgument(
                    "addRMSNorm: norm weight \(weight.name) \(weight.shape) does not match width \(x.columns)"
                )
            }
            let rows = x.launchRows
            let normed = try makeTensor(
                rows: x.rows, launchRows: rows, columns: x.columns, .bfloat16, "normed")
            let residualOut = try makeTensor(
                rows: x.rows, launchRows: rows, columns: x.columns, .bfloat16, "residual")
            let width = x.columns
            let cost = OpCost(bytes: Double(rows * width * 2 * (residual == nil ? 3 : 4) + width * 2))
            let vectors = width / 8
            let threads = min(1024, max(32, ((vectors + 3) / 4 + 31) / 32 * 32))
            let vectorized = perf.fastElementwise && width % 8 == 0 && vectors <= 4 * threads
            try launch(
                vectorized ? "ernie_add_rmsnorm_vec" : "ernie_add_rmsnorm",
                LaunchConfiguration(
                    grid: (rows, 1, 1), block: (vectorized ? threads : 256, 1, 1),
                    sharedMemoryBytes: vectorized ? 0 : width * 4),
                cost: cost, label: "add+rmsnorm", programmatic: vectorized
            ) { args in
                args.pointer(x.address)
                args.pointer(residual?.address ?? 0)
                args.pointer(weight.address)
                args.pointer(normed.address)
                args.pointer(residualOut.address)
                try args.int(width)
                args.float(eps)
            }
            return (normed, residualOut)
        }
    }

    public func linear(_ x: CUDATensor, _ weight: CUDAWeight, bias: CUDAWeight?) throws -> CUDATensor {
        try bodyOp {
            try requireBF16(x, "linear input")
            guard weight.elementType == .bfloat16, weight.shape.count == 2, weight.columns == x.columns else {
                throw CUDAError.invalidArgument(
                    "linear: weight \(weight.name) \(weight.shape) (\(weight.elementType)) cannot multiply "
                        + "[\(x.rows), \(x.columns)]"
                )
            }
            if let bias {
                guard bias.elementType == .bfloat16, bias.elementCount >= weight.rows else {
                    throw CUDAError.invalidArgument("bias \(bias.name) \(bias.shape) too short for \(weight.rows) rows")
                }
            }
            let rows = x.launchRows
            let out = try makeTensor(
                rows: x.rows, launchRows: rows, columns: weight.rows, .bfloat16, "linear \(weight.name)")
            if usesSkinnyGEMM(rows: rows, inFeatures: x.columns) {
                try skinnyGEMM(
                    x: x.address, weight: weight.address, bias: bias?.address, output: out.address, rows: rows,
                    outFeatures: weight.rows, inFeatures: x.columns, label: "linear \(Self.shapeLabel(weight))")
                return out
            }
            try gemm(
                x: x.address, weight: weight.address, output: out.address, rows: rows, outFeatures: weight.rows,
                inFeatures: x.columns, tune: perf.gemmTuning && rows <= StepBuffers.smallCapacity,
                label: "cublas \(Self.shapeLabel(weight))")
            if let bias { try addBias(out.address, rows: rows, columns: weight.rows, bias: bias, biasOffset: 0) }
            return out
        }
    }

    /// "3584x2560" for profile labels.
    static func shapeLabel(_ weight: CUDAWeight) -> String { "\(weight.rows)x\(weight.columns)" }

    /// `y[r, :] += bias[biasOffset ..< biasOffset + columns]` (bf16).
    func addBias(_ y: UInt64, rows: Int, columns: Int, bias: CUDAWeight, biasOffset: Int) throws {
        guard bias.elementType == .bfloat16, bias.elementCount >= biasOffset + columns else {
            throw CUDAError.invalidArgument("bias \(bias.name) \(bias.shape) too short for \(columns) columns")
        }
        let total = rows * columns
        guard total > 0 else { return }
        let blocks = min(LaunchConfiguration.blocks(total, per: 256), device.multiprocessorCount * 16)
        try launch(
            "ernie_add_bias", LaunchConfiguration(grid: (blocks, 1, 1), block: (256, 1, 1)),
            cost: OpCost(bytes: Double(total * 4 + columns * 2)), label: "add bias"
        ) { args in
            args.pointer(y)
            args.pointer(bias.address + UInt64(biasOffset * 2))
            try args.int(columns)
            args.uint64(UInt64(total))
        }
    }

    public func siluAndMul(_ gateUp: CUDATensor) throws -> CUDATensor {
        try bodyOp {
            try requireBF16(gateUp, "siluAndMul input")
            guard gateUp.columns % 2 == 0 else {
                throw CUDAError.invalidArgument("siluAndMul needs an even width, got \(gateUp.columns)")
            }
            let inter = gateUp.columns / 2
            let out = try makeTensor(
                rows: gateUp.rows, launchRows: gateUp.launchRows, columns: inter, .bfloat16, "silu·mul")
            try siluAndMul(gateUp.address, rows: gateUp.launchRows, intermediate: inter, into: out.address)
            return out
        }
    }

    func siluAndMul(_ gateUp: UInt64, rows: Int, intermediate: Int, into out: UInt64) throws {
        let total = rows * intermediate
        guard total > 0 else { return }
        let cost = OpCost(bytes: Double(total * 6))
        if perf.fastElementwise, intermediate % 8 == 0 {
            let vectors = total / 8
            let blocks = min(LaunchConfiguration.blocks(vectors, per: 256), device.multiprocessorCount * 16)
            try launch(
                "ernie_silu_mul_vec", LaunchConfiguration(grid: (blocks, 1, 1), block: (256, 1, 1)), cost: cost,
                label: "silu·mul", programmatic: true
            ) { args in
                args.pointer(gateUp)
                args.pointer(out)
                try args.int(intermediate)
                args.uint64(UInt64(vectors))
            }
            return
        }
        let blocks = min(LaunchConfiguration.blocks(total, per: 256), device.multiprocessorCount * 16)
        try launch(
            "ernie_silu_mul", LaunchConfiguration(grid: (blocks, 1, 1), block: (256, 1, 1)), cost: cost,
            label: "silu·mul"
        ) { args in
            args.pointer(gateUp)
            args.pointer(out)
            try args.int(intermediate)
            args.uint64(UInt64(total))
        }
    }
}
