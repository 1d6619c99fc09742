import Testing

@testable import ErnieServer

/// The ERNIE reasoning and tool-call parsers over hand-written ERNIE-Thinking outputs (the format of reference §5),
/// fed whole, byte by byte, and split in two at every byte position.
@Suite struct OutputParserTests {
    struct Recording: Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var reasoning: Bool = true
        var tools: Bool = true
        var expectedReasoning: String?
        var expectedContent: String
        var expectedCalls: [(name: String, arguments: String)] = []
        var testDescription: String { name }
    }

    static let recordings: [Recording] = [
        Recording(
            name: "tool call after reasoning",
            text: "The user wants the weather in Beijing.\nI should call get_weather.\n</think>\n\n\n<tool_call>\n"
                + #"{"name": "get_weather", "arguments": {"location": "北京", "unit": "c"}}"# + "\n</tool_call>\n",
            expectedReasoning: "The user wants the weather in Beijing.\nI should call get_weather.",
            expectedContent: "",
            expectedCalls: [("get_weather", #"{"location": "北京", "unit": "c"}"#)]),
        Recording(
            name: "response wrapper",
            text: "Let me think 🤔 about 2+2.\nIt is 4.\n</think>\n\n<response>\nThe answer is 4 (四).\n</response>\n",
            expectedReasoning: "Let me think 🤔 about 2+2.\nIt is 4.",
            expectedContent: "The answer is 4 (四)."),
        Recording(
            name: "two tool calls",
            text: "Two lookups.\n</think>\n\n\n<tool_call>\n"
                + #"{"name": "search", "arguments": "#
                + #"{"q": "say \"hi\"\n", "n": [1, 2.5e3, -0.1], "ok": true, "x": null}}"#
                + "\n</tool_call>\n\n<tool_call>\n"
                + #"{"name": "lookup", "arguments": {"nested": {"a": [{"b": {}}, []], "c": "</tool_call>"}}}"#
                + "\n</tool_call>\n",
            expectedReasoning: "Two lookups.",
            expectedContent: "",
            expectedCalls: [
                ("search", #"{"q": "say \"hi\"\n", "n": [1, 2.5e3, -0.1], "ok": true, "x": null}"#),
                ("lookup", #"{"nested": {"a": [{"b": {}}, []], "c": "</tool_call>"}}"#),
            ]),
        Recording(
            name: "answer then tool call",
            text: "Plan.\n</think>\n\n<response>\nI will check.\n</response>\n\n<tool_call>\n"
                + #"{"name": "check", "arguments": {}}"# + "\n</tool_call>",
            expectedReasoning: "Plan.", expectedContent: "I will check.", expectedCalls: [("check", "{}")]),
        Recording(
            name: "reasoning cut off",
            text: "Still thinking about </thi", expectedReasoning: "Still thinking about </thi", expectedContent: ""),
        Recording(
            name: "plain answer after reasoning",
            text: "<think>\nshort\n</think>\nJust text, no tags.\n",
            expectedReasoning: "short", expectedContent: "Just text, no tags.\n"),
        Recording(
            name: "malformed arguments",
            text: "r\n</think>\n\n<tool_call>\n" + #"{"name": "f", "arguments": {"a": }}"# + "\n</tool_call>",
            expectedReasoning: "r",
            expectedContent: "<tool_call>\n" + #"{"name": "f", "arguments": {"a": }}"# + "\n</tool_call>"),
        Recording(
            name: "malformed header",
            text: "r\n</think>\n<tool_call>\nnot json\n</tool_call> and more",
            expectedReasoning: "r", expectedContent: "<tool_call>\nnot json\n</tool_call> and more"),
        Recording(
            name: "arguments before name",
            text: "<tool_call>\n" + #"{"arguments": {}, "name": "f"}"# + "\n</tool_call>", reasoning: false,
            expectedContent: "<tool_call>\n" + #"{"arguments": {}, "name": "f"}"# + "\n</tool_call>"),
        Recording(
            name: "content then tool call, tools only",
            text: "Sure, calling it.\n\n<tool_call>\n" + #"{"name": "ping", "arguments": {"host": "a.b"}}"#
                + "\n</tool_call>",
            reasoning: false, expectedContent: "Sure, calling it.", expectedCalls: [("ping", #"{"host": "a.b"}"#)]),
        Recording(
            name: "truncated tool call",
            text: "x\n</think>\n\n<tool_call>\n" + #"{"name": "f", "arguments": {"a": [1, 2"#,
            expectedReasoning: "x", expectedContent: "<tool_call>\n" + #"{"name": "f", "arguments": {"a": [1, 2"#),
        Recording(
            name: "reasoning only parser keeps tool tags",
            text: "think\n</think>\n\n<tool_call>\n{}\n</tool_call>", tools: false,
            expectedReasoning: "think", expectedContent: "<tool_call>\n{}\n</tool_call>"),
    ]

    private static func parse(_ chunks: [[UInt8]], _ recording: Recording) -> ChatOutput {
        var counter = 0
        var parser = ErnieOutputParser(reasoning: recording.reasoning, toolCalls: recording.tools) {
            counter += 1
            return "call_\(counter)"
        }
        var events: [ErnieOutputParser.Event] = []
        for chunk in chunks { events += parser.feed(bytes: chunk) }
        events += parser.finish()
        return ChatOutput.assemble(events, reasoning: recording.reasoning)
    }

    private static func check(_ output: ChatOutput, _ recording: Recording, _ how: String) {
        #expect(output.reasoning.flatMap { $0.isEmpty ? nil : $0 } == recording.expectedReasoning, "\(how)")
        #expect(output.content == recording.expectedContent, "\(how)")
        #expect(output.toolCalls.map(\.name) == recording.expectedCalls.map(\.name), "\(how)")
        #expect(output.toolCalls.map(\.arguments) == recording.expectedCalls.map(\.arguments), "\(how)")
        #expect(output.toolCalls.map(\.id) == (0..<output.toolCalls.count).map { "call_\($0 + 1)" }, "\(how)")
    }

    @Test(arguments: recordings)
    func wholeOutput(_ recording: Recording) {
        Self.check(Self.parse([Array(recording.text.utf8)], recording), recording, "whole")
    }

    @Test(arguments: recordings)
    func byteByByte(_ recording: Recording) {
        Self.check(Self.parse(recording.text.utf8.map { [$0] }, recording), recording, "byte by byte")
    }

    @Test(arguments: recordings)
    func splitAtEveryBytePosition(_ recording: Recording) {
        let bytes = Array(recording.text.utf8)
        for cut in 0...bytes.count {
            Self.check(Self.parse([Array(bytes[..<cut]), Array(bytes[cut...])], recording), recording, "cut \(cut)")
        }
    }

    /// What an OpenAI client accumulates from the stream deltas equals the non-streaming message, for every split.
    @Test(arguments: recordings.filter { !$0.name.hasPrefix("malformed") && !$0.name.hasPrefix("truncated") })
    func streamDeltasAccumulateToTheMessage(_ recording: Recording) {
        let bytes = Array(recording.text.utf8)
        for cut in 0...bytes.count {
            var parser = ErnieOutputParser(reasoning: recording.reasoning, toolCalls: recording.tools) { "call_x" }
            var deltas = StreamDeltas.deltas(parser.feed(bytes: Array(bytes[..<cut])))
            deltas += StreamDeltas.deltas(parser.feed(bytes: Array(bytes[cut...])))
            deltas += StreamDeltas.deltas(parser.finish())
            var reasoning = ""
            var content = ""
            var calls: [Int: (name: String, arguments: String)] = [:]
            for delta in deltas {
                reasoning += delta.reasoningContent ?? ""
                content += delta.content ?? ""
                for call in delta.toolCalls ?? [] {
                    if let name = call.name {
                        #expect(calls[call.index] == nil && call.id == "call_x")
                        calls[call.index] = (name, call.arguments)
                    } else {
                        calls[call.index]?.arguments += call.arguments
                    }
                }
            }
            #expect((reasoning.isEmpty ? nil : reasoning) == recording.expectedReasoning, "cut \(cut)")
            #expect(content == recording.expectedContent, "cut \(cut)")
            let ordered = calls.keys.sorted().compactMap { calls[$0] }
            #expect(ordered.map(\.name) == recording.expectedCalls.map(\.name), "cut \(cut)")
            #expect(ordered.map(\.arguments) == recording.expectedCalls.map(\.arguments), "cut \(cut)")
        }
    }

    @Test func toolCallIDsLookLikeOpenAIs() {
        let id = ToolCallID.make()
        #expect(id.hasPrefix("call_") && id.count == 29)
        #expect(id.dropFirst(5).allSatisfy { $0.isLetter || $0.isNumber })
    }

    @Test func jsonStreamValidator() {
        func check(_ text: String) -> JSONStreamValidator.Step {
            var validator = JSONStreamValidator()
            var last = JSONStreamValidator.Step.accepted
            for byte in text.utf8 {
                last = validator.feed(byte)
                if last != .accepted { break }
            }
            return last
        }
        #expect(check(#"{"a": [1, -2.5e-3, true, false, null, "x\u00e9\"", {}], "b": {"c": []}}"#) == .complete)
        #expect(check("{}") == .complete)
        for bad in ["[1]", "{\"a\" 1}", "{\"a\": 01}", "{\"a\": tru}", "{\"a\": 1,}", "{\"a\": \"\\x\"}", "{,}",
                    "{\"a\": 1.}", "{\"a\": -}", "{\"a\": [1 2]}"] {
            #expect(check(bad) == .invalid, "\(bad)")
        }
        #expect(check("{\"a\": [1, 2") == .accepted)
    }
}
