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

    func tensor(_ name: String, shape: [Int], kind: WeightKind) throws -> W {
        try backend.makeWeight(fetch(name, shape: shape), precision: kind.precision)
    }

    func rows(_ names: [String], shapes: [[Int]], kind: WeightKind) throws -> W {
        let parts = try zip(names, shapes).map { try fetch($0, shape: $1) }
        return try backend.makeWeight(concatenatingRows: parts, precision: kind.precision)
    }

    func experts(prefix: String, count: Int, hidden: Int, width: Int) throws -> (gateUp: W, down: W) {
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

    func tensor(_ name: String, shape: [Int], kind: WeightKind) throws -> W {
        if kind == .norm {
            return try backend.makeWeight(HostTensor.filled(name: name, shape: shape, value: 1), precision: .standard)
        }
        return try random(name, shape: shape, precision: kind.precision)
    }

    func rows(_ names: [String], shapes: [[Int]], kind: WeightKind) throws -> W {
        let total = shapes.reduce(0) { $0 + ($1.first ?? 0) }
        let shape = [total] + (shapes.first?.dropFirst() ?? [])
        return try random(names.joined(separator: "|"), shape: shape, precision: kind.precision)
    }

    func experts(prefix: String, count: Int, hidden: Int, width: Int) throws -> (gateUp: W, down: W) {
        (
            try random(prefix + "experts.gate_up_proj", shape: [count * 2 * width, hidden], precision: .standard),
            try random(prefix + "experts.down_proj", shape: [count * hidden, width], precision: .standard)
        )
    }

    func correctionBias(prefix: String, count: Int) throws -> W? {
        try backend.makeWeight(
            HostTensor.filled(name: prefix + "moe_statics.e_score_correction_bias", shape: [count], value: 0),
            precision: .float32
        )
    }
}
