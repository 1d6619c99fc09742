import ErnieGrammar
import ErnieTestSupport
import ErnieTokenizer
import Foundation
import Testing

@testable import ErnieServer

/// Request fields of structured output and tool choice, and the tool-call grammar against the output parser.
@Suite struct StructuredRequestTests {
    private func chat(_ extra: String) throws -> ChatCompletionRequest {
        let body = #"{"messages": [{"role": "user", "content": "x"}]"# + extra + "}"
        return try ChatCompletionRequest(try JSONParser.parse(body))
    }

    static let weather = #"{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "#
        + #""properties": {"city": {"type": "string", "maxLength": 8}}, "required": ["city"]}}}"#
    static let search = #"{"type": "function", "function": {"name": "search"}}"#

    @Test func responseFormats() throws {
        #expect(try chat("").structured == nil)
        #expect(try chat(#", "response_format": {"type": "text"}"#).structured == nil)
        #expect(try chat(#", "response_format": {"type": "json_object"}"#).structured?.output == .jsonObject)
        let schema = try chat(
            #", "response_format": {"type": "json_schema", "json_schema": {"name": "a", "strict": true, "#
                + #""schema": {"type": "object", "properties": {"b": {"type": "integer"}}}}}"#)
        #expect(schema.structured?.output == .jsonSchema(#"{"type":"object","properties":{"b":{"type":"integer"}}}"#))
        #expect(
            try chat(#", "regex": "[0-9]+""#).structured == StructuredRequest(output: .regex("[0-9]+"), param: "regex"))
        #expect(try chat(#", "ebnf": "root ::= \"a\"""#).structured?.output == .ebnf(#"root ::= "a""#))
    }

    @Test(arguments: [
        (#", "response_format": {"type": "yaml"}"#, "response_format.type"),
        (#", "response_format": {"type": "json_schema"}"#, "response_format.json_schema"),
        (#", "response_format": {"type": "json_schema", "json_schema": {"schema": 3}}"#,
         "response_format.json_schema.schema"),
        (#", "response_format": {"type": "json_object"}, "ebnf": "root ::= \"a\"""#, "ebnf"),
        (#", "regex": 5"#, "regex"),
        (#", "tool_choice": "required""#, "tool_choice"),
        (#", "tool_choice": {"type": "function", "function": {"name": "nope"}}, "tools": [\#(weather)]"#,
         "tool_choice.function.name"),
        (#", "tool_choice": "sometimes", "tools": [\#(weather)]"#, "tool_choice"),
        (#", "tool_choice": "required", "tools": [\#(weather)], "response_format": {"type": "json_object"}"#,
         "tool_choice"),
    ])
    func invalidFieldsAreNamed(_ extra: String, _ param: String) {
        #expect {
            _ = try chat(extra)
        } throws: { error in
            (error as? APIError)?.param == param
        }
    }

    @Test func toolChoices() throws {
        let tools = ", \"tools\": [\(Self.weather), \(Self.search)]"
        #expect(try chat(tools).toolChoice == .auto)
        let none = try chat(tools + #", "tool_choice": "none""#)
        #expect(none.toolChoice == .none && none.tools == nil)
        let required = try chat(tools + #", "tool_choice": "required""#)
        let forced = required.toolChoice.constraint(tools: required.tools)
        #expect(forced?.functions.map(\.name) == ["get_weather", "search"] && forced?.single == false)
        let named = try chat(tools + #", "tool_choice": {"type": "function", "function": {"name": "search"}}"#)
        let constraint = try #require(named.toolChoice.constraint(tools: named.tools))
        #expect(constraint.single && constraint.functions == [.init(name: "search", parameters: nil)])
    }

    /// The grammar cache keeps its masks within the budget by dropping the least recently used grammars.
    @Test func grammarCacheStaysWithinItsMaskBudget() throws {
        let tokenizer = try Tokenizer.load(directory: Fixtures.path("tokenizer/hf-ernie"))
        let maskBytes = (tokenizer.vocabularySize + 31) / 32 * 4
        let letters = ConstraintRequest(output: .regex("[a-c]{1,20}x"), afterReasoning: false)
        let digits = ConstraintRequest(output: .regex("[0-9]{1,3}"), afterReasoning: false)
        for budget in [4 * maskBytes, GrammarService.defaultMaskBudgetBytes] {
            let service = GrammarService(
                tokenizer: tokenizer, vocabularySize: tokenizer.vocabularySize, maskBudgetBytes: budget)
            let first = try service.constraint(letters, param: "regex")
            var matcher = first.grammar.makeMatcher()
            for _ in 0..<10 {  // every repetition count is a configuration of its own, with its own mask
                _ = try matcher.allowedTokens()
                #expect(try matcher.accept(bytes: Array("a".utf8)))
            }
            #expect(first.grammar.cachedMaskBytes >= 10 * maskBytes)
            _ = try service.constraint(digits, param: "regex")
            #expect(service.cachedRequests == (budget < 10 * maskBytes ? [digits] : [letters, digits]))
            _ = try service.constraint(letters, param: "regex")
            #expect(service.cachedRequests.last == letters)
        }
    }

    /// A random sentence of `grammar` over a byte vocabulary: `prefix` first (it must be allowed), then bytes drawn
    /// among the allowed ones, biased towards ending (few spaces, shallow nesting, short numbers, letters inside free
    /// text).
    static func randomSentence(
        _ grammar: CompiledGrammar, prefix: [UInt8], using generator: inout SeededGenerator
    ) throws -> [UInt8]? {
        var matcher = grammar.makeMatcher()
        var text: [UInt8] = []
        for byte in prefix {
            guard try matcher.accept(Int(byte)) else { return nil }
            text.append(byte)
        }
        var depth = 0
        while text.count < 800 {
            if matcher.isAccepting && (!matcher.canContinue || Int.random(in: 0..<3, using: &generator) == 0) {
                return text
            }
            let mask = try matcher.allowedTokens()
            let allowed = (0..<256).filter { mask[$0 / 32] & (1 << UInt32($0 % 32)) != 0 }
            guard !allowed.isEmpty else { return nil }
            let isLetter = { (byte: Int) in (0x61...0x7A).contains(byte) || (0x41...0x5A).contains(byte) }
            var choices = allowed.filter { $0 < 0x80 && $0 != 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D }
            if depth >= 3 { choices = choices.filter { $0 != 0x7B && $0 != 0x5B } }
            if text.suffix(2).allSatisfy({ (0x30...0x39).contains($0) }) {  // short numbers (and exponents)
                choices = choices.filter { !(0x30...0x39).contains($0) }
            }
            if choices.count > 40 {  // free text: mostly letters, sometimes what ends it
                let letters = choices.filter(isLetter)
                if !letters.isEmpty && Int.random(in: 0..<5, using: &generator) > 0 { choices = letters }
                else { choices = choices.filter { !isLetter($0) } }
            }
            let byte = (choices.isEmpty ? allowed : choices).randomElement(using: &generator)!
            if byte == 0x7B || byte == 0x5B { depth += 1 }
            if byte == 0x7D || byte == 0x5D { depth = max(0, depth - 1) }
            guard try matcher.accept(byte) else { return nil }
            text.append(UInt8(byte))
        }
        return nil
    }

    /// Random sentences of the tool-call grammar (after reasoning, as with both parsers on) are read back by the
    /// parsers as the calls they spell, with arguments valid for the schema (checked with Foundation's parser).
    @Test func toolCallGrammarAndParserAgree() throws {
        let tokenizer = try Tokenizer.load(directory: Fixtures.path("tokenizer/hf-ernie"))
        let functions = ToolChoice.functions(try JSONParser.parse("[\(Self.weather), \(Self.search)]"))
        let bytes = TokenVocabulary(entries: (0..<256).map { TokenVocabulary.Entry(kind: .text, bytes: [UInt8($0)]) })
        var generator = SeededGenerator(seed: 8)
        for single in [false, true] {
            let request = ConstraintRequest(
                output: .toolCalls(ToolCallConstraint(functions: functions, single: single)), afterReasoning: true)
            let grammar = try CompiledGrammar(
                try GrammarService.grammar(for: request, tokenizer: tokenizer), vocabulary: bytes)
            var checked = 0
            for _ in 0..<40 {
                let reasoning = String((0..<Int.random(in: 0...30, using: &generator)).map { _ in
                    "abc xyz\n.<>/".randomElement(using: &generator)!
                })
                guard let text = try Self.randomSentence(
                    grammar, prefix: Array((reasoning + "\n</think>").utf8), using: &generator),
                    let string = String(validating: text, as: UTF8.self)
                else { continue }
                checked += 1
                let output = ChatOutput.parse(string, reasoning: true, toolCalls: true)
                #expect(!output.toolCalls.isEmpty, "\(string)")
                #expect(!single || output.toolCalls.count == 1, "\(string)")
                #expect(output.content.isEmpty, "\(string)")
                #expect(output.reasoning == reasoning.replacing(/\n+$/, with: ""), "\(string)")
                for call in output.toolCalls {
                    let arguments = try JSONSerialization.jsonObject(with: Data(call.arguments.utf8))
                    let object = try #require(arguments as? [String: Any], "\(call.arguments)")
                    if call.name == "get_weather" {
                        let city = try #require(object["city"] as? String, "\(call.arguments)")
                        #expect(city.count <= 8, "\(call.arguments)")
                    } else {
                        #expect(call.name == "search")
                    }
                }
            }
            #expect(checked > 25)
        }
    }
}
