import ErnieRuntime
import ErnieTemplate
import ErnieTokenizer

/// How many tokens a request may generate when it does not say.
enum MaxTokensDefault {
    /// A fixed number (completions: 16, `/generate`: 128).
    case fixed(Int)
    /// Whatever the context leaves after the prompt (chat completions).
    case restOfContext
}

/// Which log-probabilities one prompt's requests return.
struct LogprobOptions {
    var output = false
    var top = 0
    /// First prompt index to score; `nil` for none.
    var inputStart: Int?
}

extension ServerContext {
    /// The tokenizer, or a 400 explaining that the server runs without one.
    func requireTokenizer() throws(APIError) -> Tokenizer {
        guard let tokenizer = model.tokenizer else {
            throw .badRequest(
                "This server was started with --skip-tokenizer-init: send token ids ('input_ids' or a list of ids as "
                    + "'prompt') instead of text.")
        }
        return tokenizer
    }

    /// Token ids of `text` (no BOS; special tokens written in the text are recognised, as after a chat template).
    func encode(_ text: String) throws(APIError) -> [Int] {
        try requireTokenizer().encode(text, parseSpecialTokens: true)
    }

    /// Checks client-supplied token ids against the model's vocabulary.
    func checkTokenIDs(_ ids: [Int], param: String) throws(APIError) {
        let vocabulary = model.vocabularySize
        if let bad = ids.firstIndex(where: { $0 < 0 || $0 >= vocabulary }) {
            throw .invalidParameter(
                "\(param)[\(bad)]",
                "Token id \(ids[bad]) at '\(param)[\(bad)]' is outside the vocabulary (0..<\(vocabulary)).")
        }
    }

    /// Renders the chat template for `messages` (already validated) with the tokenizer's special token strings,
    /// `tools`, `add_generation_prompt` and the client's `chat_template_kwargs`.
    func renderChat(
        messages: [JSONObject], tools: JSONValue?, addGenerationPrompt: Bool, kwargs: JSONObject?
    ) throws(APIError) -> String {
        let tokenizer = try requireTokenizer()
        guard let template = model.chatTemplate else {
            throw .badRequest(
                "This model has no chat template; start the server with --chat-template FILE or use /v1/completions.")
        }
        var variables: [String: JinjaValue] = [:]
        for (key, value) in tokenizer.specialTokenStrings { variables[key] = .string(value) }
        for member in kwargs?.members ?? [] { variables[member.key] = member.value.jinjaValue }
        variables["messages"] = .array(messages.map(\.jinjaValue))
        if let tools { variables["tools"] = tools.jinjaValue }
        variables["add_generation_prompt"] = .bool(addGenerationPrompt)
        do {
            return try template.render(variables)
        } catch {
            throw .badRequest("Chat template error: \(error)", code: "chat_template_error")
        }
    }

    /// The engine requests for `prompts`, `options.n` per prompt (prompt-major order), with their token limits
    /// checked against the context length; `constraint` (structured output; else `options.structured` compiled)
    /// applies to all of them.
    func makeRequests(
        prompts: [[Int]], options: GenerationOptions, maxTokensDefault: MaxTokensDefault, maxParam: String,
        promptParam: String, logprobs: (Int) -> LogprobOptions, idPrefix: String,
        constraint: (any GenerationConstraint)? = nil
    ) throws(APIError) -> [GenerationRequest] {
        let context = model.contextLength
        var constraint = constraint
        if constraint == nil, let structured = options.structured {
            constraint = try grammars.constraint(
                ConstraintRequest(output: structured.output, afterReasoning: false), param: structured.param)
        }
        var requests: [GenerationRequest] = []
        requests.reserveCapacity(prompts.count * options.n)
        for (p, prompt) in prompts.enumerated() {
            guard !prompt.isEmpty else {
                throw .invalidParameter(promptParam, "The prompt is empty (it has no tokens).")
            }
            guard prompt.count <= context else {
                throw .contextLengthExceeded(
                    "The prompt is \(prompt.count) tokens long, more than the model's context length of "
                        + "\(context) tokens.",
                    param: promptParam)
            }
            let maxNew: Int
            switch (options.maxNewTokens, maxTokensDefault) {
            case (let requested?, _):
                guard prompt.count + requested <= context else {
                    throw .contextLengthExceeded(
                        "This model's maximum context length is \(context) tokens; the request asks for "
                            + "\(prompt.count + requested) (\(prompt.count) in the prompt, \(requested) for the "
                            + "completion). Reduce the prompt or '\(maxParam)'.",
                        param: maxParam)
                }
                maxNew = requested
            case (nil, .fixed(let fixed)):
                maxNew = min(fixed, context - prompt.count)
            case (nil, .restOfContext):
                maxNew = context - prompt.count
            }
            guard maxNew >= options.minNewTokens else {
                throw .contextLengthExceeded(
                    "'min_tokens' (\(options.minNewTokens)) does not fit: the context leaves room for \(maxNew) "
                        + "tokens.",
                    param: "min_tokens")
            }
            let logprob = logprobs(prompt.count)
            for choice in 0..<options.n {
                let seed = options.seed.map { SeedSource.seed($0, choice: choice) }
                let index = p * options.n + choice
                requests.append(
                    GenerationRequest(
                        id: prompts.count * options.n > 1 ? "\(idPrefix)-\(index)" : idPrefix,
                        promptTokens: prompt,
                        sampling: options.samplingParams(defaults: model.samplingDefaults),
                        maxNewTokens: maxNew,
                        minNewTokens: options.minNewTokens,
                        stopStrings: options.stop,
                        stopTokenIDs: Set(options.stopTokenIDs),
                        ignoreEOS: options.ignoreEOS,
                        skipSpecialTokens: options.skipSpecialTokens,
                        inputLogprobsStart: logprob.inputStart,
                        returnOutputLogprobs: logprob.output,
                        topLogprobs: logprob.top,
                        seed: seed,
                        constraint: constraint
                    ))
            }
        }
        return requests
    }
}
