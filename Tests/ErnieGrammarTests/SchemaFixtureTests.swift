import ErnieGrammar
import Foundation
import Testing

/// JSON Schemas against the `jsonschema` package (Tests/Fixtures/grammar/schema_cases.json): whatever the grammar
/// accepts is valid, and every valid document written in the grammar's canonical form is accepted (for the schemas
/// the fixture marks exact).
@Suite struct SchemaFixtureTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var schema: SchemaJSON
        var exact: Bool
        var documents: [(text: String, valid: Bool, canonical: Bool)]
        var testDescription: String { name }
    }

    /// Read with `SchemaJSON` because key order matters (properties are generated in schema order).
    static let cases: [Case] = {
        guard let text = try? String(contentsOfFile: GrammarTestSupport.fixturePath("grammar/schema_cases.json"),
                                     encoding: .utf8),
            let document = try? SchemaJSON.parse(text), case .array(let entries) = document
        else { return [] }
        return entries.compactMap { entry in
            guard case .string(let name)? = entry["name"], let schema = entry["schema"],
                case .array(let documents)? = entry["documents"]
            else { return nil }
            let labelled = documents.compactMap { item -> (text: String, valid: Bool, canonical: Bool)? in
                guard case .array(let fields) = item, fields.count == 3, case .string(let text) = fields[0],
                    case .bool(let valid) = fields[1], case .bool(let canonical) = fields[2]
                else { return nil }
                return (text, valid, canonical)
            }
            return Case(name: name, schema: schema, exact: entry["exact"] != .bool(false), documents: labelled)
        }
    }()

    @Test func fixturesAreLoaded() {
        #expect(Self.cases.count >= 12)
        #expect(Self.cases.allSatisfy { $0.documents.count > 20 })
    }

    @Test(arguments: cases)
    func agreesWithJSONSchema(_ testCase: Case) throws {
        let grammar = try CompiledGrammar(
            try JSONSchemaCompiler.grammar(for: testCase.schema), vocabulary: GrammarTestSupport.byteVocabulary)
        var acceptedValid = 0
        for document in testCase.documents {
            let accepted = try GrammarTestSupport.matches(grammar, document.text)
            if accepted {
                #expect(document.valid, "\(testCase.name): accepted an invalid document \(document.text)")
                acceptedValid += 1
            } else if testCase.exact && document.valid && document.canonical {
                Issue.record("\(testCase.name): rejected the valid canonical document \(document.text)")
            }
        }
        #expect(acceptedValid > 0)
    }
}
