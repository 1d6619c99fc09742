import ErnieModel
import Foundation

/// Cache key of a RoPE inverse-frequency table.
struct RopeKey: Hashable {
    var theta: Double
    var headDim: Int
}

/// How the attention kernel splits each token's keys over blocks (flash-decoding when few blocks would run).
struct AttentionPlan: Equatable {
    /// Blocks along the key axis.
    var splits: Int
    /// Keys per split.
    var splitLength: Int

    /// Minimum keys per split (below this the merge costs more than it saves).
    static let minimumSplitLength = 256

    /// One split when `tokens × kvHeads × groupChunks` blocks already fill the GPU twice over; otherwise enough
    /// splits of at least `minimumSplitLength` keys to reach that, capped so partial results stay small.
    static func make(tokens: Int, maxKVLength: Int, blocksPerToken: Int, multiprocessors: Int) -> AttentionPlan {
        let baseBlocks = max(1, tokens * blocksPerToken)
        let target = 2 * max(1, multiprocessors)
        let byLength = max(1, (maxKVLength + minimumSplitLength - 1) / minimumSplitLength)
        var splits = baseBlocks >= target ? 1 : min(byLength, (target + baseBlocks - 1) / baseBlocks)
        splits = min(splits, 128, max(1, 4_096 / max(1, tokens)))
        splits = max(1, splits)
        let length = (maxKVLength + splits - 1) / splits
        // Recompute so no split is empty at the longest sequence.
        let actual = max(1, (maxKVLength + length - 1) / max(1, length))
        return AttentionPlan(splits: actual, splitLength: max(1, length))
    }
}

extension CUDABackend {
    /// `inv_freq[i] = 1 / theta^(2i/d)` in float32 as transformers computes it.
    static func inverseFrequencies(theta: Double, headDim: Int) -> [Float] {
        (0..<(headDim / 2)).map { i in 1 / powf(Float(theta), Float(2 * i) / Float(headDim)) }
    }

    /// The attention kernel for `headDim`: the full-width variant for 64/128/256, else the narrowest masked one.
    static func attentionKernel(headDim: Int) -> String {
        if [64, 128, 256].contains(headDim) { return "ernie_attention_w\(headDim)" }
        let width = [32, 64, 128, 256].first { $0 >= headDim } ?? 256
        return "ernie_attention_w\(width)_masked"
    }

    func ropeTable(theta: Double, headDim: Int) throws -> UInt64 {
        let key = RopeKey(theta: theta, headDim: headDim)
        if let table = ropeTables[key] { return table.address }
        let values = Self.inverseFrequencies(theta: theta, headDim: headDim)
        let buffer = try DeviceBuffer(device: device, byteCount: values.count * 4, label: "RoPE table")
        try stream.upload(values, to: buffer.address)
        try stream.synchronize()
        ropeTables[key] = buffer
        return buffer.address
    }

    public func attention(qkv: CUDATensor, layer: Int, shape: AttentionShape) throws -> CUDATensor {
        try bodyOp { try attentionBody(qkv: qkv, layer: layer, shape: shape) }
    }

    private func attentionBody(qkv: CUDATensor, layer: Int, shape: AttentionShape) throws -> CUDATensor {
        let step = try currentStep("attention")
        try requireBF16(qkv, "attention qkv")
        guard let layout = kvLayout else { throw CUDAError.invalidArgument("attention before allocateKVCache") }
        let nq = shape.numHeads
        let nkv = shape.numKVHeads
        let hd = shape.headDim
        guard nq > 0, nkv > 0, nq % nkv == 0, hd == layout.headDim, nkv == layout.numKVHeads, hd % 2 == 0 else {
            throw CUDAError.invalidArgument(
                "attention shape \(shape) does not match the KV cache "
                    + "(\(layout.numKVHeads) KV heads × \(layout.headDim))"
            )
        }
        guard qkv.rows == step.tokenCount, qkv.launchRows == step.launchRows, qkv.columns == (nq + 2 * nkv) * hd
        else {
            throw CUDAError.invalidArgument(
                "attention: qkv [\(qkv.rows), \(qkv.columns)] but the step has \(step.tokenCount) tokens × "
                    + "\((nq + 2 * nkv) * hd)"
            )
        }
        let kv = try kvLayerAddress(layer)
        let pageStride = kvPageStride(layout)
        let invFreq = try ropeTable(theta: shape.ropeTheta, headDim: hd)
        let rows = step.launchRows
        let fastRope = perf.fastElementwise && hd % 4 == 0
        let decodeKernel =
            step.isDecode && perf.decodeAttention
            ? Self.decodeAttentionKernel(headDim: hd, group: nq / nkv, tensorCores: perf.decodeAttentionTensorCores)
            : nil
        if let kernel = decodeKernel, fastRope, perf.fusedDecodeRope,
            let fused = Self.fusedRopeDecodeKernel(kernel)
        {
            // RoPE and the KV write inside the tensor-core decode kernel (the default; ERNIE_CUDA_DECODE_ROPE_FUSED=0
            // for the separate launch below).
            let out = try makeTensor(
                rows: step.tokenCount, launchRows: rows, columns: nq * hd, .bfloat16, "attention output")
            try decodeAttention(
                q: qkv, out: out, kv: kv, step: step, layout: layout, nq: nq, nkv: nkv, kernel: fused,
                rope: (slots: step.slots, invFreq: invFreq))
            return out
        }
        let q = try makeTensor(rows: step.tokenCount, launchRows: rows, columns: nq * hd, .bfloat16, "rotated q")
        try launch(
            fastRope ? "ernie_rope_kv_write_fast" : "ernie_rope_kv_write",
            LaunchConfiguration(
                grid: (rows, 1, 1), block: (fastRope ? 256 : 128, 1, 1), sharedMemoryBytes: fastRope ? hd * 4 : 0),
            cost: OpCost(bytes: Double(rows * (nq + 2 * nkv) * hd * 2 * 2)), label: "rope+kv write",
            programmatic: fastRope
        ) { args in
            args.pointer(qkv.address)
            args.pointer(q.address)
            args.pointer(kv)
            args.pointer(step.positions)
            args.pointer(step.slots)
            args.pointer(invFreq)
            try args.int(nq)
            try args.int(nkv)
            try args.int(hd)
            try args.int(layout.pageSize)
            args.uint64(UInt64(pageStride))
        }
        let out = try makeTensor(
            rows: step.tokenCount, launchRows: rows, columns: nq * hd, .bfloat16, "attention output")
        if let kernel = decodeKernel {
            try decodeAttention(
                q: q, out: out, kv: kv, step: step, layout: layout, nq: nq, nkv: nkv, kernel: kernel)
            return out
        }
        if !step.isDecode, perf.flashPrefill, Self.prefillAttentionSupported(headDim: hd, group: nq / nkv) {
            try prefillAttention(q: q, out: out, kv: kv, step: step, layout: layout, nq: nq, nkv: nkv)
            return out
        }
        // The general kernel plans its splits from the host's longest KV length: not replayable.
        try bodyIsNotGraphable()
        let tokens = step.tokenCount
        let group = nq / nkv
        let chunks = (group + 7) / 8
        let plan = AttentionPlan.make(
            tokens: tokens, maxKVLength: step.maxKVLength, blocksPerToken: nkv * chunks,
            multiprocessors: device.multiprocessorCount
        )
        var partO: CUDATensor?
        var partML: CUDATensor?
        if plan.splits > 1 {
            partO = try makeTensor(rows: plan.splits * tokens * nq, columns: hd, .float32, "attention partial O")
            partML = try makeTensor(rows: plan.splits * tokens * nq, columns: 2, .float32, "attention partial m/l")
        }
        let scale = 1 / Float(hd).squareRoot()
        try launch(
            Self.attentionKernel(headDim: hd),
            LaunchConfiguration(grid: (tokens, nkv * chunks, plan.splits), block: (128, 1, 1)),
            cost: attentionCost(step: step, nq: nq, nkv: nkv, hd: hd), label: "attention (general)"
        ) { args in
            args.pointer(q.address)
            args.pointer(kv)
            args.pointer(step.tokenSequence)
            args.pointer(step.positions)
            args.pointer(step.sequencePageStart)
            args.pointer(step.pages)
            args.pointer(out.address)
            args.pointer(partO?.address ?? 0)
            args.pointer(partML?.address ?? 0)
            try args.int(tokens)
            try args.int(nq)
            try args.int(nkv)
            try args.int(hd)
            try args.int(layout.pageSize)
            args.uint64(UInt64(pageStride))
            args.float(scale)
            try args.int(plan.splitLength)
        }
        if let partO, let partML {
            try mergeAttention(partO: partO.address, partML: partML.address, out: out.address, rows: tokens, nq: nq,
                               hd: hd, splits: plan.splits)
        }
        return out
    }

    func mergeAttention(partO: UInt64, partML: UInt64, out: UInt64, rows: Int, nq: Int, hd: Int, splits: Int) throws {
        try launch(
            "ernie_attention_merge", LaunchConfiguration(grid: (rows, nq, 1), block: (128, 1, 1)),
            cost: OpCost(bytes: Double(splits * rows * nq * (hd + 2) * 4 + rows * nq * hd * 2)),
            label: "attention merge"
        ) { args in
            args.pointer(partO)
            args.pointer(partML)
            args.pointer(out)
            try args.int(rows)
            try args.int(nq)
            try args.int(hd)
            try args.int(splits)
        }
    }

    /// Bytes of K/V every query reads plus q and the output; 4·hd FLOPs per (query head, key).
    func attentionCost(step: StepState, nq: Int, nkv: Int, hd: Int) -> OpCost {
        var keys = 0.0
        var pairs = 0.0
        for s in step.batch.sequences {
            keys += Double(s.endPosition)
            // Causal: token j of the chunk sees startPosition + j + 1 keys.
            pairs += Double(s.tokenCount) * Double(s.startPosition) + Double(s.tokenCount * (s.tokenCount + 1) / 2)
        }
        let kvBytes = keys * Double(nkv * hd * 2 * 2)
        let qoBytes = Double(step.tokenCount * nq * hd * 2 * 2)
        return OpCost(bytes: kvBytes + qoBytes, flops: pairs * Double(nq) * Double(hd) * 4)
    }
}
