/// Weights read from a safetensors checkpoint.
final class CheckpointSource<B: Backend>: WeightSource {
    typealias W = B.Weight
    let checkpoint: SafetensorsCheckpoint
    let backend: B
    private(set) var used: Set<String> = []

    init(checkpoint: SafetensorsCheckpoint, backend: B) {
        self.checkpoint = checkpoint
        self.backend = backend
    }

    private func fetch(_ name: String, shape: [Int]) throws -> HostTensor {
        let t = try checkpoint.tensor(name, shape: shape)
        used.insert(name)
        return t
    }

    func tensor(_ name: String, shape: [Int], kind: WeightKind, slice: TensorSlice?) throws -> W {
        guard let slice else { return try backend.makeWeight(fetch(name, shape: shape), precision: kind.precision) }
        return try backend.makeWeight(
            concatenatingRows: try fetch(name, shape: shape).pieces(slice), precision: kind.precision)
    }

    func rows(_ names: [String], shapes: [[Int]], kind: WeightKind, slices: [TensorSlice]?) throws -> W {
        let parts = try zip(names, shapes).map { try fetch($0, shape: $1) }
        guard let slices else { return try backend.makeWeight(concatenatingRows: parts, precision: kind.precision) }
        let pieces = try zip(parts, slices).flatMap { try $0.pieces($1) }
        return try backend.makeWeight(concatenatingRows: pieces, precision: kind.precision)
    }

    func experts(
        prefix: String, count: Int, hidden: Int, width: Int, shard: ExpertShard?
    ) throws -> (gateUp: W, down: W) {
        if let shard { return try expertShard(prefix: prefix, count: count, hidden: hidden, width: width, shard: shard) }
        let fusedGateUp = prefix + "experts.gate_up_proj"
        let fusedDown = prefix + "experts.down_proj"
        if checkpoint.contains(fusedGateUp) || checkpoint.contains(fusedDown) {
            let gateUp = try fetch(fusedGateUp, shape: [count, 2 * width, hidden])
            let down = try fetch(fusedDown, shape: [count, hidden, width])
            return (
                try backend.makeWeight(gateUp.reshaped([count * 2 * width, hidden]), precision: .standard),
                try backend.makeWeight(down.reshaped([count * hidden, width]), precision: .standard)
            )
        }
        var gateUpParts: [HostTensor] = []
        var downParts: [HostTensor] = []
        for e in 0..<count {
            let p = prefix + "experts.\(e)."
            gateUpParts.append(try fetch(p + "gate_proj.weight", shape: [width, hidden]))
            gateUpParts.append(try fetch(p + "up_proj.weight", shape: [width, hidden]))
            downParts.append(try fetch(p + "down_proj.weight", shape: [hidden, width]))
        }
        return (
            try backend.makeWeight(concatenatingRows: gateUpParts, precision: .standard),
            try backend.makeWeight(concatenatingRows: downParts, precision: .standard)
        )
    }

    /// One rank's experts: of each expert in `shard.experts`, the gate and up rows and the down columns of
    /// `shard.width`.
    private func expertShard(
        prefix: String, count: Int, hidden: Int, width: Int, shard: ExpertShard
    ) throws -> (gateUp: W, down: W) {
        let fusedGateUp = prefix + "experts.gate_up_proj"
        let fusedDown = prefix + "experts.down_proj"
        let w = shard.width
        var gateUpParts: [HostTensor] = []
        var downParts: [HostTensor] = []
        if checkpoint.contains(fusedGateUp) || checkpoint.contains(fusedDown) {
            let gateUp = try fetch(fusedGateUp, shape: [count, 2 * width, hidden]).reshaped([count * 2 * width, hidden])
            let down = try fetch(fusedDown, shape: [count, hidden, width]).reshaped([count * hidden, width])
            for e in shard.experts {
                let base = e * 2 * width
                gateUpParts.append(try gateUp.rows((base + w.lowerBound)..<(base + w.upperBound)))
                gateUpParts.append(try gateUp.rows((base + width + w.lowerBound)..<(base + width + w.upperBound)))
            }
            let expertRows = (shard.experts.lowerBound * hidden)..<(shard.experts.upperBound * hidden)
            let rows = try down.rows(expertRows)
            downParts.append(w == 0..<width ? rows : try rows.columns(w))
        } else {
            for e in shard.experts {
                let p = prefix + "experts.\(e)."
                gateUpParts.append(try fetch(p + "gate_proj.weight", shape: [width, hidden]).rows(w))
                gateUpParts.append(try fetch(p + "up_proj.weight", shape: [width, hidden]).rows(w))
                let down = try fetch(p + "down_proj.weight", shape: [hidden, width])
                downParts.append(w == 0..<width ? down : try down.columns(w))
            }
        }
        return (
            try backend.makeWeight(concatenatingRows: gateUpParts, precision: .standard),
            try backend.makeWeight(concatenatingRows: downParts, precision: .standard)
        )
    }

    static func correctionBiasNames(prefix: String) -> [String] {
        [
            prefix + "moe_statics.e_score_correction_bias",
            prefix + "gate.moe_statics.e_score_correction_bias",
            prefix + "gate.e_score_correction_bias",
        ]
    }

    func correctionBias(prefix: String, count: Int) throws -> W? {
        guard let name = Self.correctionBiasNames(prefix: prefix).first(where: checkpoint.contains) else { return nil }
        var t = try checkpoint.tensor(name)
        guard t.shape == [1, count] || t.shape == [count] else {
            throw ModelError.shapeMismatch(
                name: name, file: checkpoint.filePath(of: name) ?? checkpoint.directory, expected: [1, count],
                actual: t.shape
            )
        }
        used.insert(name)
        t = t.reshaped([count])
        return try backend.makeWeight(t, precision: .float32)
    }
}

/// Deterministic random weights (`--load-format dummy`).
///
/// Every weight is `DummyWeights.value(seed(name), index)` of its whole (fused) tensor, so a rank's slice holds the
/// same numbers as that part of the whole model. A slice is generated on the backend (`makeRandomWeight` of its row
/// ranges and column window), except one padded with zero rows (generated on the host).
struct DummySource<B: Backend>: WeightSource {
    typealias W = B.Weight
    let backend: B
    let seed: UInt64
    let scale: Float

    private func random(_ name: String, shape: [Int], precision: WeightPrecision) throws -> W {
        try backend.makeRandomWeight(
            shape: shape, precision: precision, scale: scale, seed: DummyWeights.seed(for: name, base: seed)
        )
    }

    /// `slice` of the random tensor `name` of `shape`.
    private func random(
        _ name: String, shape: [Int], slice requested: TensorSlice, precision: WeightPrecision
    ) throws -> W {
        let slice = requested.merged
        let tensorSeed = DummyWeights.seed(for: name, base: seed)
        let columns = shape.count == 1 ? 1 : shape.dropFirst().reduce(1, *)
        let ranges = (slice.rowRanges ?? [0..<(shape.first ?? 0)]).filter { !$0.isEmpty }
        let kept = slice.columns ?? 0..<columns
        if slice.shape(of: shape).first == ranges.reduce(0, { $0 + $1.count }), !ranges.isEmpty, !kept.isEmpty {
            return try backend.makeRandomWeight(
                rows: ranges, columns: kept, sourceColumns: columns, vector: shape.count == 1, precision: precision,
                scale: scale, seed: tensorSeed)
        }
        let pieces = DummyWeights.hostSlice(
            name: name, seed: tensorSeed, scale: scale, shape: shape, slice: slice)
        return try backend.makeWeight(concatenatingRows: pieces, precision: precision)
    }

    func tensor(_ name: String, shape: [Int], kind: WeightKind, slice: TensorSlice?) throws -> W {
        if kind == .norm {
            return try backend.makeWeight(HostTensor.filled(name: name, shape: shape, value: 1), precision: .standard)
        }
        guard let slice else { return try random(name, shape: shape, precision: kind.precision) }
        return try random(name, shape: shape, slice: slice, precision: kind.precision)
    }

    func rows(_ names: [String], shapes: [[Int]], kind: WeightKind, slices: [TensorSlice]?) throws -> W {
        let total = shapes.reduce(0) { $0 + ($1.first ?? 0) }
        let shape = [total] + (shapes.first?.dropFirst() ?? [])
        let name = names.joined(separator: "|")
        guard let slices else { return try random(name, shape: shape, precision: kind.precision) }
        // The parts are row blocks of one fused random tensor: move each part's rows to the fused tensor's rows.
        var fused: [Range<Int>] = []
        var offset = 0
        for (part, slice) in zip(shapes, slices) {
            let rows = part.first ?? 0
            for r in slice.rowRanges ?? [0..<rows] { fused.append((offset + r.lowerBound)..<(offset + r.upperBound)) }
            offset += rows
        }
        return try random(name, shape: shape, slice: TensorSlice(rowRanges: fused), precision: kind.precision)
    }

    func experts(
        prefix: String, count: Int, hidden: Int, width: Int, shard: ExpertShard?
    ) throws -> (gateUp: W, down: W) {
        let gateUpName = prefix + "experts.gate_up_proj"
        let downName = prefix + "experts.down_proj"
        let gateUpShape = [count * 2 * width, hidden]
        let downShape = [count * hidden, width]
        guard let shard else {
            return (
                try random(gateUpName, shape: gateUpShape, precision: .standard),
                try random(downName, shape: downShape, precision: .standard)
            )
        }
        let w = shard.width
        var gateUpRows: [Range<Int>] = []
        for e in shard.experts {
            let base = e * 2 * width
            gateUpRows.append((base + w.lowerBound)..<(base + w.upperBound))
            gateUpRows.append((base + width + w.lowerBound)..<(base + width + w.upperBound))
        }
        let downRows = (shard.experts.lowerBound * hidden)..<(shard.experts.upperBound * hidden)
        return (
            try random(gateUpName, shape: gateUpShape, slice: TensorSlice(rowRanges: gateUpRows), precision: .standard),
            try random(
                downName, shape: downShape, slice: TensorSlice(rowRanges: [downRows], columns: w), precision: .standard)
        )
    }

    func correctionBias(prefix: String, count: Int) throws -> W? {
        try backend.makeWeight(
            HostTensor.filled(name: prefix + "moe_statics.e_score_correction_bias", shape: [count], value: 0),
            precision: .float32
        )
    }
}
