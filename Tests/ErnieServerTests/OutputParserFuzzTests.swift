import Foundation
import Testing

@testable import ErnieServer

/// The ERNIE output parsers on random, mostly malformed model output: fragments of the format's tags, broken and
/// well-formed tool-call blocks, JSON punctuation and multi-byte text, cut into random stream chunks. Whatever comes,
/// the parsers must not fail, must give the same message for every chunking, and must only report tool calls whose
/// arguments are a JSON object (checked with Foundation's `JSONSerialization`, not our parser).
@Suite struct OutputParserFuzzTests {
    static let fragments = [
        "<think>", "</think>", "<response>", "</response>", "<tool_call>", "</tool_call>", "<tool_call>\n",
        "\n</tool_call>", "\n", "\n\n", " ", "{", "}", "[", "]", "\"", ":", ",", "\\", "</", "<", "tool", "_call>",
        "think>", #"{"name": "f", "arguments": "#, #"{"name": "#, #""arguments": "#, #"{"arguments": {}, "name": "f"}"#,
        "null", "1.5e3", "-", "abc", "é", "北京", "🤔", "\u{7F}", "<response", "</think", "\t",
    ]

    static func randomJSON(depth: Int, using generator: inout SeededGenerator) -> String {
        let pick = Int.random(in: 0..<(depth > 2 ? 4 : 6), using: &generator)
        switch pick {
        case 0: return ["0", "-12", "3.25", "1e-3", "7E+2"].randomElement(using: &generator)!
        case 1: return ["true", "false", "null"].randomElement(using: &generator)!
        case 2:
            let strings = [#""x""#, #""北京""#, #""a\"b\\n\u00e9""#, #""</tool_call>""#, #""""#]
            return strings.randomElement(using: &generator)!
        case 3: return "{}"
        case 4:
            let items = (0..<Int.random(in: 0...3, using: &generator)).map { _ in
                randomJSON(depth: depth + 1, using: &generator)
            }
            return "[" + items.joined(separator: ", ") + "]"
        default: return randomObject(depth: depth + 1, using: &generator)
        }
    }

    static func randomObject(depth: Int, using generator: inout SeededGenerator) -> String {
        let members = (0..<Int.random(in: 0...3, using: &generator)).map { index in
            "\"k\(index)\": " + randomJSON(depth: depth + 1, using: &generator)
        }
        return "{" + members.joined(separator: ", ") + "}"
    }

    /// A random output: fragments, sometimes a well-formed tool-call block, sometimes one cut short or broken.
    static func randomOutput(using generator: inout SeededGenerator) -> String {
        var text = ""
        for _ in 0..<Int.random(in: 1...24, using: &generator) {
            switch Int.random(in: 0..<10, using: &generator) {
            case 0:
                let block = "<tool_call>\n{\"name\": \"fn\(Int.random(in: 0..<3, using: &generator))\", \"arguments\": "
                    + randomObject(depth: 0, using: &generator) + "}\n</tool_call>"
                if Bool.random(using: &generator) {
                    text += block
                } else {
                    // Cut short, or one byte changed.
                    var bytes = Array(block.utf8)
                    var cut = Int.random(in: 1..<bytes.count, using: &generator)
                    while bytes[cut] & 0xC0 == 0x80 { cut -= 1 }  // at a character boundary
                    if Bool.random(using: &generator) {
                        bytes = Array(bytes[..<cut])
                    } else if bytes[cut] < 0x80 {
                        bytes[cut] = Array("{}[]\",:x \n".utf8).randomElement(using: &generator)!
                    }
                    text += String(decoding: bytes, as: UTF8.self)
                }
            default:
                text += fragments.randomElement(using: &generator)!
            }
        }
        return text
    }

    static func randomChunks(_ bytes: [UInt8], using generator: inout SeededGenerator) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var start = 0
        while start < bytes.count {
            let length = min(bytes.count - start, Int.random(in: 1...9, using: &generator))
            chunks.append(Array(bytes[start..<(start + length)]))
            start += length
        }
        return chunks
    }

    static func events(_ chunks: [[UInt8]], reasoning: Bool, tools: Bool) -> [ErnieOutputParser.Event] {
        var counter = 0
        var parser = ErnieOutputParser(reasoning: reasoning, toolCalls: tools) {
            counter += 1
            return "call_\(counter)"
        }
        var events: [ErnieOutputParser.Event] = []
        for chunk in chunks { events += parser.feed(bytes: chunk) }
        return events + parser.finish()
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func randomOutputsNeverFailAndDoNotDependOnChunking(_ reasoning: Bool, _ tools: Bool) throws {
        var generator = SeededGenerator(seed: reasoning ? (tools ? 11 : 12) : (tools ? 13 : 14))
        var callsSeen = 0
        var failuresSeen = 0
        for sample in 0..<400 {
            let text = Self.randomOutput(using: &generator)
            let bytes = Array(text.utf8)
            let whole = Self.events([bytes], reasoning: reasoning, tools: tools)
            let message = ChatOutput.assemble(whole, reasoning: reasoning)
            let label = "sample \(sample): \(text.debugDescription)"

            // The same message for any chunking, even byte by byte and inside UTF-8 characters.
            let byBytes = Self.events(bytes.map { [$0] }, reasoning: reasoning, tools: tools)
            #expect(ChatOutput.assemble(byBytes, reasoning: reasoning) == message, "\(label) byte by byte")
            let chunks = Self.randomChunks(bytes, using: &generator)
            let chunked = Self.events(chunks, reasoning: reasoning, tools: tools)
            #expect(ChatOutput.assemble(chunked, reasoning: reasoning) == message, "\(label) chunks")

            // Nothing is invented: the parts together are no longer than the output, text stays valid.
            let total = (message.reasoning?.utf8.count ?? 0) + message.content.utf8.count
                + message.toolCalls.reduce(0) { $0 + $1.arguments.utf8.count + $1.name.utf8.count }
            #expect(total <= bytes.count, "\(label)")
            #expect(!message.content.contains("\u{FFFD}"), "\(label)")
            #expect(!(message.reasoning ?? "").contains("\u{FFFD}"), "\(label)")
            if !reasoning { #expect(message.reasoning == nil) }
            if !tools { #expect(message.toolCalls.isEmpty) }
            if !reasoning && !tools { #expect(message.content == text, "\(label)") }
            if reasoning, let end = text.range(of: "</think>"), let thought = message.reasoning, !thought.isEmpty {
                #expect(!(message.reasoning ?? "").contains("</think>"))
                #expect(text[..<end.lowerBound].contains(thought), "\(label)")
            }

            // Every reported call has a name and a JSON object as arguments (checked by Foundation).
            for call in message.toolCalls {
                #expect(!call.name.isEmpty && text.contains("\"\(call.name)\""), "\(label)")
                let parsed = try? JSONSerialization.jsonObject(with: Data(call.arguments.utf8), options: [])
                #expect(parsed is [String: Any], "\(label): arguments \(call.arguments)")
            }
            callsSeen += message.toolCalls.count

            // The stream deltas of a random chunking: reasoning and finished calls always as in the message;
            // content too unless a call failed after its name was streamed (that part cannot be taken back).
            let failed = chunked.contains { if case .toolCallFailed = $0 { true } else { false } }
            failuresSeen += failed ? 1 : 0
            let streamed = Self.accumulate(StreamDeltas.deltas(chunked))
            #expect(streamed.reasoning == (message.reasoning ?? ""), "\(label)")
            let finished = chunked.compactMap { event -> Int? in
                if case .toolCallEnd(let index) = event { index } else { nil }
            }
            #expect(
                finished.map { streamed.calls[$0]?.name ?? "" } == message.toolCalls.map(\.name), "\(label)")
            #expect(
                finished.map { streamed.calls[$0]?.arguments ?? "" } == message.toolCalls.map(\.arguments),
                "\(label)")
            if !failed {
                #expect(streamed.content == message.content, "\(label)")
                #expect(streamed.calls.count == message.toolCalls.count, "\(label)")
            }
        }
        if tools {
            #expect(callsSeen > 20, "the random outputs should hold well-formed calls")
            #expect(failuresSeen > 8, "the random outputs should hold calls that break after their name")
        }
    }

    static func accumulate(_ deltas: [ChatCompletionChunk.Delta])
        -> (reasoning: String, content: String, calls: [Int: (name: String, arguments: String)])
    {
        var reasoning = ""
        var content = ""
        var calls: [Int: (name: String, arguments: String)] = [:]
        for delta in deltas {
            reasoning += delta.reasoningContent ?? ""
            content += delta.content ?? ""
            for call in delta.toolCalls ?? [] {
                if let name = call.name {
                    calls[call.index] = (name, call.arguments)
                } else {
                    calls[call.index]?.arguments += call.arguments
                }
            }
        }
        return (reasoning, content, calls)
    }
}
