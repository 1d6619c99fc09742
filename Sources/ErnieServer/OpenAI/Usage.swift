/// OpenAI's `usage` object.
struct Usage: Encodable, Sendable {
    struct PromptTokensDetails: Encodable, Sendable {
        var cachedTokens: Int

        enum CodingKeys: String, CodingKey {
            case cachedTokens = "cached_tokens"
        }
    }

    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int
    var promptTokensDetails: PromptTokensDetails

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
        case promptTokensDetails = "prompt_tokens_details"
    }

    /// Usage of a set of results: each prompt is counted once (by its first choice, `n` choices per prompt),
    /// completions of every choice are added up.
    init(results: [GenerationResult], choicesPerPrompt n: Int) {
        var prompt = 0
        var cached = 0
        var completion = 0
        for (index, result) in results.enumerated() {
            if index % n == 0 {
                prompt += result.promptTokens
                cached += result.cachedTokens
            }
            completion += result.completionTokens
        }
        promptTokens = prompt
        completionTokens = completion
        totalTokens = prompt + completion
        promptTokensDetails = PromptTokensDetails(cachedTokens: cached)
    }
}
