import ErnieTokenizer

extension ServerContext {
    /// The text of one token for log-probability listings (`token_id:<id>` without a tokenizer, as vLLM writes it).
    func tokenText(_ id: Int) -> String {
        guard let tokenizer = model.tokenizer else { return "token_id:\(id)" }
        return tokenizer.decode([id], skipSpecialTokens: false)
    }

    /// The text of a list of tokens; empty without a tokenizer.
    func decodeText(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        model.tokenizer?.decode(ids, skipSpecialTokens: skipSpecialTokens) ?? ""
    }
}

/// Log-probabilities as JSON numbers: `-inf` (a token the model rules out) becomes -9999.0, as vLLM reports it, because
/// JSON has no infinity.
func jsonLogprob(_ value: Float) -> Float {
    value.isFinite ? value : (value.isNaN ? -9999 : max(value, -9999))
}
