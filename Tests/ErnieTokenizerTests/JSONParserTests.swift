import Foundation
import Testing

@testable import ErnieTokenizer

/// The tokenizer's own JSON parser against Foundation's `JSONSerialization` as the reference.
@Suite struct JSONParserTests {
    /// Whether a parsed value equals what JSONSerialization produced.
    static func same(_ value: JSONValue, _ reference: Any) -> Bool {
        switch value {
        case .null: return reference is NSNull
        case .bool(let bool): return (reference as? NSNumber).map { $0 == NSNumber(value: bool) } ?? false
        case .int(let int): return (reference as? NSNumber)?.int64Value == Int64(int)
        case .double(let double): return (reference as? NSNumber)?.doubleValue == double
        case .string(let string): return (reference as? String) == string
        case .array(let array):
            guard let other = reference as? [Any], other.count == array.count else { return false }
            return zip(array, other).allSatisfy { same($0, $1) }
        case .object(let object):
            guard let other = reference as? [String: Any], other.count == object.count else { return false }
            return object.allSatisfy { key, item in other[key].map { same(item, $0) } ?? false }
        }
    }

    @Test func fixtureFilesParseLikeJSONSerialization() throws {
        let files = [
            "hf-ernie/tokenizer.json", "hf-bytelevel/tokenizer.json", "lines.json", "expected/sp-ernie.json",
            "sp-ernie/tokenizer_config.json", "sp-ernie/special_tokens_map.json", "sp-ernie/added_tokens.json",
        ]
        for file in files {
            let data = try #require(FileManager.default.contents(atPath: TokenizerFixtures.directory(file)))
            let reference = try JSONSerialization.jsonObject(with: data)
            let value = try JSONParser.parse([UInt8](data))
            #expect(JSONParserTests.same(value, reference), "\(file)")
        }
    }

    @Test func escapesNumbersAndLiterals() throws {
        let text =
            #"{"a": "\u00e9\ud83d\ude00\n\t\"\\\/", "b": [0, -12, 3.5, 1e3, -2.5E-2, true, false, null], "c": {}}"#
        let value = try JSONParser.parse(Array(text.utf8))
        let reference = try JSONSerialization.jsonObject(with: Data(text.utf8))
        #expect(JSONParserTests.same(value, reference))
        guard case .object(let object) = value, case .string(let string)? = object["a"] else {
            Issue.record("not an object with a string")
            return
        }
        #expect(string == "é😀\n\t\"\\/")
    }

    @Test func malformedInputThrows() throws {
        let bad = [
            "", "{", "[1,]", "{\"a\" 1}", "{\"a\": 1,}", "[01]", "[1.]", "[.5]", "[-]", "[1e]", "\"abc", "\"\\x\"",
            "\"\\u12\"", "tru", "nul", "[1] 2", "{\"a\": \"\u{01}\"}", "{1: 2}",
            String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000),
        ]
        for text in bad {
            #expect(throws: JSONParser.Failure.self, "\(text.prefix(20).debugDescription)") {
                try JSONParser.parse(Array(text.utf8))
            }
        }
        // Every truncation of a real file fails cleanly.
        let data = try #require(
            FileManager.default.contents(atPath: TokenizerFixtures.directory("sp-ernie/tokenizer_config.json")))
        let bytes = [UInt8](data)
        var failures = 0
        for length in 0..<bytes.count {
            if (try? JSONParser.parse(Array(bytes.prefix(length)))) == nil { failures += 1 }
        }
        #expect(failures >= bytes.count - 2)  // a trailing newline may be cut without harm
    }
}
