import ErnieRuntime

/// Builds SGLang's `/generate` result objects: `{"text", "output_ids", "meta_info": {...}}`.
struct GenerateResponseBuilder {
    let server: ServerContext
    let request: GenerateRequest

    /// The result object of engine request `request` so far (`result` accumulated up to now).
    func object(
        for engineRequest: GenerationRequest, result: GenerationResult, rid: String, index: Int?,
        latency: Duration?
    ) -> JSONValue {
        var meta = JSONObject()
        meta["id"] = .string(rid)
        meta["finish_reason"] = result.finishReason?.native(completionTokens: result.completionTokens) ?? .null
        meta["prompt_tokens"] = .int(result.promptTokens)
        meta["completion_tokens"] = .int(result.completionTokens)
        meta["cached_tokens"] = .int(result.cachedTokens)
        if let latency {
            meta["e2e_latency"] = .double(
                Double(latency.components.seconds) + Double(latency.components.attoseconds) * 1e-18)
        }
        if request.returnLogprob {
            let start = engineRequest.inputLogprobsStart ?? engineRequest.promptTokens.count
            let prompt = engineRequest.promptTokens
            let input = result.inputLogprobs ?? []
            let inputTokens = prompt.count > start ? Array(prompt[start...]) : []
            let inputEntries = inputTokens.indices.map { $0 < input.count ? input[$0] : nil }
            meta["input_token_logprobs"] = .array(
                zip(inputTokens, inputEntries).map { token, entry in triple(entry.map(\.logprob), token) })
            meta["output_token_logprobs"] = .array(
                zip(result.tokens, result.outputLogprobs).map { token, entry in triple(entry.logprob, token) })
            if request.topLogprobsNum > 0 {
                meta["input_top_logprobs"] = .array(inputEntries.map { $0.map(top) ?? .null })
                meta["output_top_logprobs"] = .array(result.outputLogprobs.map(top))
            }
        }
        var object = JSONObject()
        if let index { object["index"] = .int(index) }
        object["text"] = .string(result.text)
        object["output_ids"] = .array(result.tokens.map { .int($0) })
        object["meta_info"] = .object(meta)
        return .object(object)
    }

    /// `[logprob, token_id, text-or-null]`.
    private func triple(_ logprob: Float?, _ token: Int) -> JSONValue {
        .array([
            logprob.map { .float(jsonLogprob($0)) } ?? .null,
            .int(token),
            request.returnTextInLogprobs ? .string(server.tokenText(token)) : .null,
        ])
    }

    private func top(_ entry: LogprobEntry) -> JSONValue {
        .array(entry.top.map { triple($0.logprob, Int($0.token)) })
    }
}
