import ErnieModel

extension CPUBackend {
    /// `[n]` → a vector of n rows and one column; `[r, c]` → a matrix.
    private static func geometry(_ shape: [Int], name: String) throws -> (rows: Int, cols: Int, isVector: Bool) {
        switch shape.count {
        case 1 where shape[0] >= 0: return (shape[0], 1, true)
        case 2 where shape[0] >= 0 && shape[1] >= 0: return (shape[0], shape[1], false)
        default: throw ModelError.backend("weight '\(name)' has shape \(shape); expected [n] or [rows, cols]")
        }
    }

    /// Counts a new weight of `elementBytes`-byte elements against the memory limit; refuses it when the weights
    /// would not fit (allocation failure would otherwise trap).
    private func reserve(rows: Int, cols: Int, elementBytes: Int = 4, name: String) throws {
        let (elements, overflow) = rows.multipliedReportingOverflow(by: cols)
        let bytes = Double(elements) * Double(elementBytes)
        guard !overflow, Double(weightBytes) + bytes <= Double(memoryLimit) else {
            throw ModelError.backend(
                "weight '\(name)' [\(rows), \(cols)] does not fit: \(weightBytes >> 20) MiB of weights are "
                    + "loaded and the CPU backend's limit is \(memoryLimit >> 20) MiB"
            )
        }
        weightBytes += elements * elementBytes
    }

    private static func checkBytes(_ t: HostTensor) throws {
        guard t.bytes.count >= t.elementCount * t.dtype.byteSize else {
            throw ModelError.backend("tensor '\(t.name)' has \(t.bytes.count) bytes for shape \(t.shape) of \(t.dtype)")
        }
    }

    public func makeWeight(_ tensor: HostTensor, precision: WeightPrecision) throws -> CPUWeight {
        try makeWeight(concatenatingRows: [tensor], precision: precision)
    }

    public func makeWeight(concatenatingRows parts: [HostTensor], precision: WeightPrecision) throws -> CPUWeight {
        guard let first = parts.first else { throw ModelError.backend("makeWeight with no tensors") }
        let g = try Self.geometry(first.shape, name: first.name)
        var rows = 0
        for part in parts {
            let pg = try Self.geometry(part.shape, name: part.name)
            guard pg.cols == g.cols, pg.isVector == g.isVector else {
                throw ModelError.backend(
                    "cannot stack '\(part.name)' \(part.shape) under '\(first.name)' \(first.shape): column counts differ"
                )
            }
            try Self.checkBytes(part)
            rows += pg.rows
        }
        // bfloat16 matrices stay bfloat16 (exact; half the bytes each decode step reads); the rest is float32.
        let keepBFloat16 = precision == .standard && !g.isVector && parts.allSatisfy { $0.dtype == .bfloat16 }
        try reserve(rows: rows, cols: g.cols, elementBytes: keepBFloat16 ? 2 : 4, name: first.name)
        let weight = CPUWeight(rows: rows, cols: g.cols, isVector: g.isVector, bfloat16: keepBFloat16)
        var offset = 0
        for part in parts {
            switch weight.elements {
            case .float32(let storage):
                part.copyFloats(into: storage.pointer + offset)
            case .bfloat16(let storage):
                // checkBytes above: the part holds elementCount · 2 bytes.
                if let base = part.bytes.baseAddress, part.elementCount > 0 {
                    UnsafeMutableRawPointer(storage.pointer + offset).copyMemory(from: base,
                                                                                 byteCount: part.elementCount * 2)
                }
            }
            offset += part.elementCount
        }
        return weight
    }

    public func makeRandomWeight(
        rows: [Range<Int>], columns: Range<Int>, sourceColumns: Int, vector: Bool, precision: WeightPrecision,
        scale: Float, seed: UInt64
    ) throws -> CPUWeight {
        guard columns.lowerBound >= 0, columns.upperBound <= sourceColumns, rows.allSatisfy({ $0.lowerBound >= 0 }),
            !vector || columns.count == 1
        else {
            throw ModelError.backend("random weight of rows \(rows), columns \(columns) of \(sourceColumns)")
        }
        let sourceRows = rows.flatMap { Array($0) }
        let cols = columns.count
        try reserve(rows: sourceRows.count, cols: cols, name: "random weight [\(sourceRows.count), \(cols)]")
        let storage = Storage<Float>(count: sourceRows.count * cols, longLived: true)
        let weight = CPUWeight(rows: sourceRows.count, cols: cols, isVector: vector, elements: .float32(storage))
        let p = SharedPointer(storage.pointer)
        let first = columns.lowerBound
        Parallel.forRanges(weight.count, costPerItem: 16) { range in
            for i in range {
                let r = i / cols
                let index = UInt64(sourceRows[r] * sourceColumns + first + (i - r * cols))
                p.base[i] = DummyWeights.value(seed: seed, index: index, scale: scale)
            }
        }
        return weight
    }
}
