import ErnieGrammar
import Testing

@Suite struct SchemaCompilerTests {
    private func compile(_ schema: String) throws -> CompiledGrammar {
        try CompiledGrammar(
            try JSONSchemaCompiler.grammar(for: try SchemaJSON.parse(schema)),
            vocabulary: GrammarTestSupport.byteVocabulary)
    }

    @Test(arguments: [
        (#"{"type": "string", "not": {"const": "a"}}"#, ["not"]),
        (#"{"type": "object", "minProperties": 1, "patternProperties": {}}"#, ["minProperties", "patternProperties"]),
        (#"{"type": "array", "uniqueItems": true}"#, ["uniqueItems"]),
        (#"{"type": "number", "multipleOf": 2}"#, ["multipleOf"]),
        (#"{"properties": {"a": {"if": {}, "then": {}}}}"#, ["if", "then"]),
    ])
    func unsupportedKeywordsAreNamed(_ schema: String, _ keywords: [String]) {
        #expect {
            _ = try compile(schema)
        } throws: { error in
            guard case .unsupportedSchemaKeywords(_, let named)? = error as? GrammarError else { return false }
            return Set(named) == Set(keywords)
        }
    }

    @Test func errorsNameTheirPath() {
        #expect(throws: GrammarError.unsupportedSchemaKeywords(path: "#/properties/a", keywords: ["if", "then"])) {
            _ = try compile(#"{"properties": {"a": {"if": {}, "then": {}}}}"#)
        }
        #expect(throws: GrammarError.invalidSchema(path: "#/type", message: "unknown type 'text'")) {
            _ = try compile(#"{"type": "text"}"#)
        }
        #expect(throws: GrammarError.invalidSchema(path: "#/$ref", message: "'#/$defs/missing' does not exist")) {
            _ = try compile(##"{"$ref": "#/$defs/missing"}"##)
        }
    }

    @Test func invalidJSONIsReported() {
        #expect {
            _ = try SchemaJSON.parse(#"{"type": }"#)
        } throws: { error in
            if case .invalidSchema(let path, _)? = error as? GrammarError { return path == "#" }
            return false
        }
    }

    @Test func canonicalSeparatorsAndPropertyOrder() throws {
        let grammar = try compile(
            #"{"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "boolean"}}, "required": ["b"]}"#)
        #expect(try GrammarTestSupport.matches(grammar, #"{"b": 1, "a": true}"#))
        #expect(try GrammarTestSupport.matches(grammar, #"{"b": -20}"#))
        #expect(try !GrammarTestSupport.matches(grammar, #"{"a": true, "b": 1}"#))
        #expect(try !GrammarTestSupport.matches(grammar, #"{"b":1}"#))
        #expect(try !GrammarTestSupport.matches(grammar, #"{"a": true}"#))
    }

    @Test func recursiveReferencesNest() throws {
        let grammar = try compile(
            ##"{"type": "array", "items": {"$ref": "#"}, "maxItems": 2}"##)
        #expect(try GrammarTestSupport.matches(grammar, "[]"))
        #expect(try GrammarTestSupport.matches(grammar, "[[], [[[], []]]]"))
        #expect(try !GrammarTestSupport.matches(grammar, "[[], [], []]"))
        #expect(try !GrammarTestSupport.matches(grammar, "[[]"))
    }

    @Test func anyJSONObject() throws {
        let grammar = try CompiledGrammar(
            try JSONSchemaCompiler.anyObjectGrammar(), vocabulary: GrammarTestSupport.byteVocabulary)
        #expect(try GrammarTestSupport.matches(grammar, #"{"a": [1, 2.5, {"b": null}], "c": "\u00e9\n"}"#))
        #expect(try GrammarTestSupport.matches(grammar, "{}"))
        #expect(try !GrammarTestSupport.matches(grammar, "[]"))
        #expect(try !GrammarTestSupport.matches(grammar, #"{"a": "\ud800"}"#), "lone surrogate escapes are not generated")
        #expect(try !GrammarTestSupport.matches(grammar, #"{"a": 12345678901234567}"#), "more than 16 digits")
    }

    @Test func integerBoundsAreExact() throws {
        let grammar = try compile(#"{"type": "integer", "minimum": -12, "exclusiveMaximum": 105}"#)
        for value in -30...130 {
            #expect(try GrammarTestSupport.matches(grammar, String(value)) == (value >= -12 && value < 105), "\(value)")
        }
        #expect(try !GrammarTestSupport.matches(grammar, "-0"))
        #expect(try !GrammarTestSupport.matches(grammar, "007"))
    }
}
