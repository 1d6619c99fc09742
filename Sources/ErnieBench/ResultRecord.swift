/// The JSON line `bench-serving` appends to `--output-file`, with the keys and key order of SGLang's result dict.
enum ResultRecord {
    static func make(
        options: BenchServingOptions, serverInfo: JSONValue?, duration: Double, metrics m: BenchmarkMetrics,
        acceptLength: Double?, outputs: [RequestOutput], outputLens: [Int]
    ) -> JSONValue {
        func optionalInt(_ v: Int?) -> JSONValue { v.map { .int($0) } ?? .null }
        var members: [(String, JSONValue)] = [
            ("tag", options.tag.map { .string($0) } ?? .null),
            ("backend", .string(options.backend.rawValue)),
            ("dataset_name", .string(options.datasetName.rawValue)),
            ("request_rate", .double(options.requestRate)),
            ("max_concurrency", optionalInt(options.maxConcurrency)),
            ("sharegpt_output_len", optionalInt(options.sharegptOutputLen)),
            ("random_input_len", .int(options.randomInputLen)),
            ("random_output_len", .int(options.randomOutputLen)),
            ("random_range_ratio", .double(options.randomRangeRatio)),
            ("server_info", serverInfo ?? .null),
            ("duration", .double(duration)),
            ("completed", .int(m.completed)),
            ("total_input_tokens", .int(m.totalInput)),
            ("total_input_text_tokens", .int(m.totalInputText)),
            ("total_input_vision_tokens", .int(m.totalInputVision)),
            ("total_output_tokens", .int(m.totalOutput)),
            ("total_output_tokens_retokenized", .int(m.totalOutputRetokenized)),
            ("request_throughput", .double(m.requestThroughput)),
            ("input_throughput", .double(m.inputThroughput)),
            ("output_throughput", .double(m.outputThroughput)),
            ("total_throughput", .double(m.totalThroughput)),
            ("mean_e2e_latency_ms", .double(m.meanE2Ems)),
            ("median_e2e_latency_ms", .double(m.medianE2Ems)),
            ("std_e2e_latency_ms", .double(m.stdE2Ems)),
            ("p99_e2e_latency_ms", .double(m.p99E2Ems)),
            ("mean_ttft_ms", .double(m.meanTTFTms)),
            ("median_ttft_ms", .double(m.medianTTFTms)),
            ("std_ttft_ms", .double(m.stdTTFTms)),
            ("p99_ttft_ms", .double(m.p99TTFTms)),
            ("mean_tpot_ms", .double(m.meanTPOTms)),
            ("median_tpot_ms", .double(m.medianTPOTms)),
            ("std_tpot_ms", .double(m.stdTPOTms)),
            ("p99_tpot_ms", .double(m.p99TPOTms)),
            ("mean_itl_ms", .double(m.meanITLms)),
            ("median_itl_ms", .double(m.medianITLms)),
            ("std_itl_ms", .double(m.stdITLms)),
            ("p95_itl_ms", .double(m.p95ITLms)),
            ("p99_itl_ms", .double(m.p99ITLms)),
            ("concurrency", .double(m.concurrency)),
            ("accept_length", acceptLength.map { .double($0) } ?? .null),
            ("max_output_tokens_per_s", .double(m.maxOutputTokensPerSecond)),
            ("max_concurrent_requests", .int(m.maxConcurrentRequests)),
        ]
        if options.outputDetails {
            members += [
                ("input_lens", .array(outputs.map { .int($0.promptLen) })),
                ("output_lens", .array(outputLens.map { .int($0) })),
                ("ttfts", .array(outputs.map { .double($0.ttft) })),
                ("itls", .array(outputs.map { .array($0.itl.map { .double($0) }) })),
                ("generated_texts", .array(outputs.map { .string($0.generatedText) })),
                ("errors", .array(outputs.map { .string($0.error) })),
            ]
        }
        return .object(members)
    }
}
