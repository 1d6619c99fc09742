import Foundation
import Testing

@testable import ErnieBench

@Suite struct JSONTests {
    @Test func serializesLikePythonJSONDumps() throws {
        // Reference: Python's json.dumps of a value with escapes, non-ASCII, Infinity and awkward floats.
        let fixture = try BenchFixtures.json("json_dumps.json")
        let dumped = try #require(fixture["dumped"] as? String)
        let value = try JSONParser.parse(dumped)
        #expect(value.serialized() == dumped)
    }

    @Test func parsesNestedValuesAndKeepsKeyOrder() throws {
        let value = try JSONParser.parse(#" {"b": [1, -2.5e1, true, null], "a": {"x": "\u00e9\ud83d\ude00"}, "b": 3} "#)
        #expect(value["b"] == .int(3))  // a repeated key resolves to the last one, as Python's json does
        #expect(value["a"]?["x"]?.stringValue == "é😀")
        guard case .object(let members) = value else { Issue.record("not an object"); return }
        #expect(members.map(\.0) == ["b", "a", "b"])
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "\"abc", "01x", "[1] 2", "{\"a\": tru}", "\"\\q\""])
    func rejectsMalformedInput(_ text: String) {
        #expect(throws: BenchError.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsDeepNestingWithoutCrashing() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: BenchError.self) { try JSONParser.parse(deep) }
        #expect(throws: BenchError.self) { _ = try JSONSkimmer(Array(deep.utf8)).validate() }
    }

    @Test func skimmerFindsMembersWithoutBuildingTheDocument() throws {
        let text = #"{"meta_info": {"completion_tokens": 7, "x": [1, {"text": "inner"}]}, "text": "a\"b\\", "n": null}"#
        let json = JSONSkimmer(Array(text.utf8))
        let root = try json.validate()
        let textAt = try #require(try json.member("text", of: root))
        #expect(try json.string(textAt) == "a\"b\\")
        #expect(json.isNonEmptyString(textAt))
        let meta = try #require(try json.member("meta_info", of: root))
        #expect(try json.int(#require(try json.member("completion_tokens", of: meta))) == 7)
        #expect(try json.member("missing", of: root) == nil)
        #expect(json.isNull(try #require(try json.member("n", of: root))))
        let empty = JSONSkimmer(Array(#"{"text": ""}"#.utf8))
        #expect(!empty.isNonEmptyString(try #require(try empty.member("text", of: try empty.validate()))))
    }

    @Test func mergingExtraBodyReplacesAndAppendsLikePythonDictUnpacking() {
        let base: JSONValue = .object([("a", .int(1)), ("b", .int(2))])
        let merged = base.merging([("b", .string("x")), ("c", .bool(true))])
        #expect(merged.serialized() == #"{"a": 1, "b": "x", "c": true}"#)
    }
}
