/// The JSON bodies SGLang's request functions send (late-2025 `bench_serving.py`).
enum RequestPayload {
    static func body(
        for input: RequestInput, api: BenchBackend.API, stream: Bool, ignoreEOS: Bool, returnLogprob: Bool = false
    ) -> JSONValue {
        let base: JSONValue
        switch api {
        case .native:
            let promptMember: (String, JSONValue)
            switch input.prompt {
            case .text(let text): promptMember = ("text", .string(text))
            case .ids(let ids): promptMember = ("input_ids", .array(ids.map { .int($0) }))
            }
            base = .object([
                promptMember,
                (
                    "sampling_params",
                    .object([
                        ("temperature", .double(0.0)),
                        ("max_new_tokens", .int(input.outputLen)),
                        ("ignore_eos", .bool(ignoreEOS)),
                    ])
                ),
                ("stream", .bool(stream)),
                ("lora_path", .null),
                ("return_logprob", .bool(returnLogprob)),
                ("logprob_start_len", .int(-1)),
            ])
        case .completions:
            base = .object([
                ("model", .string(input.model)),
                ("prompt", promptValue(input.prompt)),
                ("temperature", .double(0.0)),
                ("best_of", .int(1)),
                ("max_tokens", .int(input.outputLen)),
                ("stream", .bool(stream)),
                ("ignore_eos", .bool(ignoreEOS)),
            ])
        case .chat:
            base = .object([
                ("model", .string(input.model)),
                ("messages", .array([.object([("role", .string("user")), ("content", promptValue(input.prompt))])])),
                ("temperature", .double(0.0)),
                ("max_completion_tokens", .int(input.outputLen)),
                ("stream", .bool(stream)),
                ("ignore_eos", .bool(ignoreEOS)),
            ])
        }
        return base.merging(input.extraBody)
    }

    private static func promptValue(_ prompt: Prompt) -> JSONValue {
        switch prompt {
        case .text(let text): return .string(text)
        case .ids(let ids): return .array(ids.map { .int($0) })
        }
    }
}
