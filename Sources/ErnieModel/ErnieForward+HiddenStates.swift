extension ErnieForward {
    /// Hands `observer` the first `tokens` rows of `x` (plus `residual` when given: the residual stream after a
    /// layer is the layer's last output added to the residual, a sum the next layer's fused norm would form).
    func observe(
        _ observer: HiddenStateObserver, _ point: HiddenStatePoint, _ x: B.Tensor, residual: B.Tensor? = nil,
        tokens: Int
    ) throws {
        var values = try rows(x, tokens)
        if let residual {
            let r = try rows(residual, tokens)
            guard r.count == values.count else {
                throw ModelError.backend("\(point): residual has \(r.count) values, the layer output \(values.count)")
            }
            for i in values.indices { values[i] += r[i] }
        }
        try observer(HiddenStateSnapshot(
            point: point, tokenIndices: Array(0..<tokens), columns: config.hiddenSize, values: values))
    }

    /// Hands `observer` the rows of `x`, which answer the step's tokens `tokens` in order.
    func observe(_ observer: HiddenStateObserver, _ point: HiddenStatePoint, _ x: B.Tensor, tokens: [Int]) throws {
        let values = try rows(x, tokens.count)
        try observer(HiddenStateSnapshot(point: point, tokenIndices: tokens, columns: config.hiddenSize, values: values))
    }

    /// The first `count` rows of `x` on the host (a backend may hold more rows than the step's tokens: padding).
    private func rows(_ x: B.Tensor, _ count: Int) throws -> [Float] {
        let all = try backend.toHost(x)
        let needed = count * config.hiddenSize
        guard all.count >= needed else {
            throw ModelError.backend("a hidden state of \(all.count) values is smaller than \(count) rows of "
                + "\(config.hiddenSize)")
        }
        return all.count == needed ? all : Array(all[0..<needed])
    }

    /// Runs `prompt` as one prefill step from position 0 (KV pages 0, 1, …) with logits requested for every token,
    /// and returns every `HiddenStatePoint` of it: the embedding, each layer's output and the final norm, one row per
    /// prompt token. The KV cache must hold the prompt; what it held before is overwritten.
    public func captureHiddenStates(prompt: [Int32]) throws -> [HiddenStatePoint: HiddenStateSnapshot] {
        guard !prompt.isEmpty else { throw ModelError.invalidBatch("the prompt is empty") }
        let pageSize = kvLayout.pageSize
        let pageCount = (prompt.count + pageSize - 1) / pageSize
        guard pageCount <= kvLayout.numPages else {
            throw ModelError.invalidBatch(
                "a prompt of \(prompt.count) tokens does not fit the KV cache (\(kvLayout.capacityTokens) tokens)")
        }
        let batch = ForwardBatch(
            tokens: prompt,
            sequences: [
                .init(
                    tokenOffset: 0, tokenCount: prompt.count, startPosition: 0,
                    pages: (0..<pageCount).map { Int32($0) })
            ],
            pageSize: pageSize)
        let requests = prompt.indices.map {
            LogitsRequest(tokenIndex: $0, sampling: nil, vocabLimit: config.vocabSize)
        }
        var captured: [HiddenStatePoint: HiddenStateSnapshot] = [:]
        let previous = hiddenStateObserver
        hiddenStateObserver = { snapshot in
            captured[snapshot.point] = snapshot
            try previous?(snapshot)
        }
        defer { hiddenStateObserver = previous }
        _ = try execute(batch, logits: requests)
        return captured
    }
}
