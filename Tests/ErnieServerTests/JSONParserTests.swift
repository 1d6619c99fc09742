import Foundation
import Testing

@testable import ErnieServer

/// The parser is checked against Foundation's `JSONSerialization` (an independent implementation) on valid documents,
/// and on documents that must be rejected.
@Suite struct JSONParserTests {
    /// Converts our value to the Foundation object graph `JSONSerialization` produces, for comparison.
    static func foundationObject(_ value: JSONValue) -> Any {
        switch value {
        case .null: return NSNull()
        case .bool(let flag): return flag
        case .int(let number): return number
        case .double(let number): return number
        case .string(let text): return text
        case .array(let values): return values.map(foundationObject)
        case .object(let object):
            var dictionary: [String: Any] = [:]
            for member in object.members { dictionary[member.key] = foundationObject(member.value) }
            return dictionary
        }
    }

    static let validDocuments = [
        #"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
        #"[1, -2, 3.5, -0.25, 1e3, 2E-2, 0, -0]"#,
        #""plain""#,
        #""escapes: \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 \u4e2d""#,
        #"{"unicode": "héllo wörld 中文 😀", "empty": "", "list": []}"#,
        "  \n\t{ \"spaced\" :\n [ 1 , 2 ] }  ",
        #"{"nested": [[[[{"x": [1, {"y": null}]}]]]]}"#,
        #"123456789012"#,
        #"{"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}"#,
    ]

    @Test(arguments: validDocuments)
    func matchesFoundation(_ document: String) throws {
        let ours = try JSONParser.parse(document)
        let reference = try JSONSerialization.jsonObject(with: Data(document.utf8), options: [.fragmentsAllowed])
        let converted = Self.foundationObject(ours)
        #expect(NSArray(array: [converted]).isEqual(NSArray(array: [reference])), "\(document)")
    }

    @Test func keepsKeyOrderAndLastDuplicateWins() throws {
        let value = try JSONParser.parse(#"{"z": 1, "a": 2, "m": {"y": 1, "b": 2}, "a": 3}"#)
        guard case .object(let object) = value else {
            Issue.record("not an object")
            return
        }
        #expect(object.keys == ["z", "a", "m", "a"])
        #expect(object["a"] == .int(3))
        guard case .object(let inner)? = object["m"] else {
            Issue.record("'m' is not an object")
            return
        }
        #expect(inner.keys == ["y", "b"])
    }

    @Test func numbersKeepIntegersExact() throws {
        #expect(try JSONParser.parse("9007199254740993") == .int(9_007_199_254_740_993))
        #expect(try JSONParser.parse("-5") == .int(-5))
        #expect(try JSONParser.parse("5.0") == .double(5))
        // Beyond Int64: a double, as Python would turn it into a float when used as one.
        #expect(try JSONParser.parse("123456789012345678901234567890") == .double(1.2345678901234568e29))
    }

    static let invalidDocuments: [(String, String)] = [
        ("", "empty"),
        ("{", "unterminated object"),
        (#"{"a" 1}"#, "missing colon"),
        (#"{"a": 1,}"#, "trailing comma"),
        ("[1, 2", "unterminated array"),
        (#"{'a': 1}"#, "single quotes"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("01", "leading zero"),
        ("1.", "no fraction digits"),
        ("-", "bare minus"),
        (#""\x""#, "bad escape"),
        (#""\ud800""#, "lone high surrogate"),
        (#""\udc00""#, "lone low surrogate"),
        ("\"a\u{01}b\"", "raw control character"),
        (#"{"a": 1} {"b": 2}"#, "two documents"),
        ("tru", "truncated literal"),
        ("1e999", "overflowing number"),
    ]

    @Test(arguments: invalidDocuments)
    func rejects(_ document: String, _ why: String) {
        #expect(throws: JSONParseError.self, "\(why)") { try JSONParser.parse(document) }
        // Foundation agrees these are not JSON (except the cases where it is more lenient, which we skip).
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = Array(#"{"text": ""#.utf8) + [0xFF, 0xFE, 0x41] + Array(#""}"#.utf8)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
        let overlong: [UInt8] = [0x22, 0xC0, 0xAF, 0x22]
        #expect(throws: JSONParseError.self) { try JSONParser.parse(overlong) }
        let truncated: [UInt8] = [0x22, 0xE4, 0xB8, 0x22]
        #expect(throws: JSONParseError.self) { try JSONParser.parse(truncated) }
    }

    @Test func boundsNesting() throws {
        let deep =
            String(repeating: "[", count: JSONParser.maximumDepth + 1)
            + String(repeating: "]", count: JSONParser.maximumDepth + 1)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let ok =
            String(repeating: "[", count: JSONParser.maximumDepth)
            + String(repeating: "]", count: JSONParser.maximumDepth)
        _ = try JSONParser.parse(ok)
    }

    @Test func errorsCarryTheOffset() {
        do {
            _ = try JSONParser.parse(#"{"a": 1, "b": x}"#)
            Issue.record("parsed invalid JSON")
        } catch {
            #expect(error.offset == 14)
        }
    }
}
