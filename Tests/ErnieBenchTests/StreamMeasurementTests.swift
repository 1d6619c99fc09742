import Testing

@testable import ErnieBench

/// The per-request rules of serving-anchors.md §2.5, fed with lines at chosen times.
@Suite struct StreamMeasurementTests {
    func feed<M: StreamMeasurement>(_ kind: M.Type, requested: Int, _ lines: [(Double, String)]) throws -> RequestOutput {
        var m = M(start: 10.0, requestedOutputLen: requested)
        for (time, line) in lines {
            if let payload = SSELine.payload(of: Array(line.utf8)) { try m.consume(payload, at: time) }
        }
        var output = RequestOutput()
        try m.finish(into: &output)
        return output
    }

    func close(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-9 }
    }

    @Test func nativeDividesChunkGapsAcrossNewTokens() throws {
        let out = try feed(
            NativeStreamMeasurement.self, requested: 99,
            [
                (10.1, #"data: {"text": "", "meta_info": {"completion_tokens": 0}}"#),  // empty text: ignored
                (10.3, #"data: {"text": "ab", "meta_info": {"completion_tokens": 2}}"#),  // first token(s): TTFT
                (10.5, #"data: {"text": "abc", "meta_info": {"completion_tokens": 3}}"#),  // 1 new token: 0.2
                (10.6, #"data: {"text": "abc", "meta_info": {"completion_tokens": 3}}"#),  // 0 new: skipped
                (10.9, #"data: {"text": "abcde", "meta_info": {"completion_tokens": 5}}"#),  // 2 new: 0.4/2 each
                (11.0, "data: [DONE]"),
            ])
        #expect(abs(out.ttft - 0.3) < 1e-9)
        #expect(close(out.itl, [0.2, 0.2, 0.2]))
        #expect(abs(out.latency - 1.0) < 1e-9)
        #expect(out.outputLen == 5)
        #expect(out.generatedText == "abcde")
        #expect(out.success)
    }

    @Test func nativeWithoutStreamingIsOneChunk() throws {
        let out = try feed(
            NativeStreamMeasurement.self, requested: 4,
            [(10.8, #"{"text": "wxyz", "meta_info": {"completion_tokens": 4}}"#)])
        #expect(abs(out.ttft - 0.8) < 1e-9 && abs(out.latency - 0.8) < 1e-9)
        #expect(out.itl.isEmpty && out.outputLen == 4)
    }

    @Test func nativeChunkWithoutTokenCountFails() {
        #expect(throws: BenchError.self) {
            _ = try feed(NativeStreamMeasurement.self, requested: 4, [(10.1, #"data: {"text": "a"}"#)])
        }
    }

    @Test func completionsCountOneGapPerContentChunkAndReadUsage() throws {
        let out = try feed(
            CompletionsStreamMeasurement.self, requested: 50,
            [
                (10.2, #"data: {"choices": [{"text": "He"}], "usage": null}"#),
                (10.25, #"data: {"choices": [{"text": ""}], "usage": {"completion_tokens": 1}}"#),  // ignored
                (10.3, #"data: {"choices": [{"text": "llo"}]}"#),
                (10.6, #"data: {"choices": [{"text": "!"}], "usage": {"completion_tokens": 3}}"#),
                (10.7, "data: [DONE]"),
            ])
        #expect(abs(out.ttft - 0.2) < 1e-9)
        #expect(close(out.itl, [0.1, 0.3]))
        #expect(out.textChunks == ["llo", "!"])
        #expect(abs(out.latency - 0.7) < 1e-9)
        #expect(out.outputLen == 3)
        #expect(out.generatedText == "Hello!")
    }

    @Test func completionsWithoutUsageReportTheRequestedLength() throws {
        let out = try feed(
            CompletionsStreamMeasurement.self, requested: 50, [(10.2, #"data: {"choices": [{"text": "x"}]}"#)])
        #expect(out.outputLen == 50)
    }

    @Test func usageOnlyChunkWithEmptyChoicesFailsAsInSGLang() {
        #expect(throws: BenchError.self) {
            _ = try feed(
                CompletionsStreamMeasurement.self, requested: 5,
                [(10.2, #"data: {"choices": [], "usage": {"completion_tokens": 5}}"#)])
        }
        #expect(throws: BenchError.self) {
            _ = try feed(ChatStreamMeasurement.self, requested: 5, [(10.2, #"data: {"choices": []}"#)])
        }
    }

    @Test func chatSkipsEmptyDeltasAndReadsUsageFromAnyChunk() throws {
        let out = try feed(
            ChatStreamMeasurement.self, requested: 50,
            [
                (10.05, #"data: {"choices": [{"delta": {"role": "assistant", "content": ""}}]}"#),
                (10.2, #"data: {"choices": [{"delta": {"content": "Hi"}}]}"#),
                (10.3, #"data: {"choices": [{"delta": {"content": null}}]}"#),
                (10.45, #"data: {"choices": [{"delta": {"content": " there"}}]}"#),
                (10.5, #"data: {"choices": [{"delta": {}, "finish_reason": "length"}], "usage": {"completion_tokens": 2}}"#),
                (10.55, #"data: {"usage": {"completion_tokens": 4}}"#),  // no choices key: reads as one empty choice
                (10.6, "data: [DONE]"),
            ])
        #expect(abs(out.ttft - 0.2) < 1e-9)
        #expect(close(out.itl, [0.25]))
        #expect(abs(out.latency - 0.6) < 1e-9)
        #expect(out.outputLen == 4)
        #expect(out.generatedText == "Hi there")
    }

    @Test func malformedChunkFails() {
        #expect(throws: BenchError.self) {
            _ = try feed(ChatStreamMeasurement.self, requested: 5, [(10.2, "data: {not json")])
        }
    }

    @Test func payloadsMatchSGLangsRequestBodies() {
        let input = RequestInput(
            prompt: .text("hi"), promptLen: 1, outputLen: 7, model: "m", extraBody: [("top_k", .int(5))])
        let native = RequestPayload.body(for: input, api: .native, stream: true, ignoreEOS: true)
        #expect(
            native.serialized()
                == #"{"text": "hi", "sampling_params": {"temperature": 0.0, "max_new_tokens": 7, "ignore_eos": true}, "#
                + #""stream": true, "lora_path": null, "return_logprob": false, "logprob_start_len": -1, "top_k": 5}"#)
        let ids = RequestPayload.body(
            for: RequestInput(prompt: .ids([3, 4]), promptLen: 2, outputLen: 1, model: "m"), api: .native,
            stream: false, ignoreEOS: false)
        #expect(ids["input_ids"] == .array([.int(3), .int(4)]) && ids["stream"] == .bool(false))
        let completions = RequestPayload.body(for: input, api: .completions, stream: true, ignoreEOS: false)
        #expect(
            completions.serialized()
                == #"{"model": "m", "prompt": "hi", "temperature": 0.0, "best_of": 1, "max_tokens": 7, "stream": true, "#
                + #""ignore_eos": false, "top_k": 5}"#)
        let chat = RequestPayload.body(for: input, api: .chat, stream: true, ignoreEOS: true)
        #expect(
            chat.serialized()
                == #"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.0, "#
                + #""max_completion_tokens": 7, "stream": true, "ignore_eos": true, "top_k": 5}"#)
    }
}
