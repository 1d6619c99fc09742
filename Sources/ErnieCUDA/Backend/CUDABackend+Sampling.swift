import ErnieModel

extension CUDABackend {
    public func sample(_ logits: CUDATensor, requests: [LogitsRequest]) throws -> [TokenResult] {
        try requireBF16(logits, "logits")
        guard logits.rows == requests.count else {
            throw CUDAError.invalidArgument("sample: \(logits.rows) logits rows for \(requests.count) requests")
        }
        guard !requests.isEmpty else { return [] }
        let vocabulary = logits.columns
        let batch = try SamplingBatch(
            requests: requests, vocabulary: vocabulary, topPAfterTopK: configuration.topPAfterTopK
        )
        let count = requests.count
        let maxTop = max(batch.maxTop, 1)
        let ints = try uploads.upload(batch.ints)
        let floats = try uploads.upload(batch.floats)
        let seeds = try uploads.upload(batch.seeds)
        let penaltyTokens = try uploads.upload(batch.penaltyTokens.isEmpty ? [0] : batch.penaltyTokens)
        let penaltyCounts = try uploads.upload(batch.penaltyCounts.isEmpty ? [0] : batch.penaltyCounts)
        let banned = try uploads.upload(batch.bannedTokens.isEmpty ? [0] : batch.bannedTokens)
        let masks = try uploads.upload(batch.maskWords.isEmpty ? [0] : batch.maskWords)
        let needsScratch = requests.contains { $0.sampling != nil }
        let scratch = try makeTensor(rows: needsScratch ? count : 1, columns: vocabulary, .float32, "sampling scratch")
        // Outputs: token [n] (int), logprob [n], target [n], top ids [n, maxTop] (int), top logprobs [n, maxTop].
        let outInts = try makeTensor(rows: count, columns: 1 + maxTop, .int32, "sampling outputs")
        let outFloats = try makeTensor(rows: count, columns: 2 + maxTop, .float32, "sampling outputs")
        try launch("ernie_sample", LaunchConfiguration(grid: (count, 1, 1), block: (1024, 1, 1))) { args in
            args.pointer(logits.address)
            try args.int(vocabulary)
            args.pointer(ints)
            args.pointer(floats)
            args.pointer(seeds)
            args.pointer(penaltyTokens)
            args.pointer(penaltyCounts)
            args.pointer(banned)
            args.pointer(masks)
            args.pointer(scratch.address)
            args.pointer(outInts.address)
            args.pointer(outFloats.address)
            args.pointer(outFloats.address + UInt64(count * 4))
            args.pointer(outInts.address + UInt64(count * 4))
            args.pointer(outFloats.address + UInt64(2 * count * 4))
            try args.int(maxTop)
        }
        let hostInts = try stream.download(Int32.self, count: count * (1 + maxTop), from: outInts.address)
        let hostFloats = try stream.download(Float.self, count: count * (2 + maxTop), from: outFloats.address)
        uploads.recycle()
        var results: [TokenResult] = []
        results.reserveCapacity(count)
        for (i, request) in requests.enumerated() {
            let token = hostInts[i]
            var result = TokenResult(token: nil, logprob: request.targetToken != nil ? hostFloats[count + i] : 0)
            if request.sampling != nil {
                guard token >= 0 else {
                    throw CUDAError.invalidArgument(
                        "request \(i): no token can be sampled (all allowed tokens are banned or masked)"
                    )
                }
                result.token = token
                result.logprob = hostFloats[i]
            }
            if request.targetToken != nil { result.targetLogprob = hostFloats[count + i] }
            if request.topLogprobs > 0 {
                let base = count + i * maxTop
                let floatBase = 2 * count + i * maxTop
                result.top = (0..<request.topLogprobs).compactMap { j in
                    let id = hostInts[base + j]
                    return id >= 0 ? TokenLogprob(token: id, logprob: hostFloats[floatBase + j]) : nil
                }
            }
            results.append(result)
        }
        return results
    }
}
