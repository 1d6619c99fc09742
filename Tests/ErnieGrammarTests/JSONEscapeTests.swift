import Foundation
import Testing

@testable import ErnieGrammar

/// `JSONEscape` against Foundation's JSON parser (`JSONSerialization`) as the reference.
@Suite struct JSONEscapeTests {
    /// Foundation's decoding of the JSON string literal `"<escape>"`, or nil when it rejects it.
    static func reference(_ escape: String) -> String? {
        let document = Data("[\"\(escape)\"]".utf8)
        guard let array = (try? JSONSerialization.jsonObject(with: document)) as? [String] else { return nil }
        return array.first
    }

    static func decodeAll(_ escape: String) -> JSONEscape.Outcome {
        JSONEscape.decode(Array(escape.utf8), backslash: 0)
    }

    @Test func validEscapesDecodeAsFoundationDoes() throws {
        var cases = [
            #"\""#, #"\\"#, #"\/"#, #"\b"#, #"\f"#, #"\n"#, #"\r"#, #"\t"#, #"\u0041"#, #"\u00e9"#, #"\u4E2D"#,
            #"\uFFFF"#, #"\u0000"#, #"\ud83d\ude00"#, #"\uD834\uDD1E"#, #"\uDBFF\uDFFF"#,
        ]
        // 300 code points spread over the whole range (a fixed multiplicative stride), BMP and astral.
        for i in 1...300 {
            var value = UInt32((i * 2_654_435_761) % 0x11_0000)
            if (0xD800...0xDFFF).contains(value) { value += 0x800 }
            if value >= 0x10000 {
                let v = value - 0x10000
                cases.append(String(format: "\\u%04x\\u%04X", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)))
            } else {
                cases.append(String(format: i % 2 == 0 ? "\\u%04x" : "\\u%04X", value))
            }
        }
        for escape in cases {
            let expected = try #require(Self.reference(escape), "Foundation rejects \(escape)")
            let bytes = Array(escape.utf8)
            guard case .scalar(let scalar, let next) = JSONEscape.decode(bytes, backslash: 0) else {
                Issue.record("\(escape): \(Self.decodeAll(escape))")
                continue
            }
            #expect(String(Character(scalar)) == expected, "\(escape)")
            #expect(next == bytes.count, "\(escape)")
            // Every proper prefix is incomplete, not wrong.
            for cut in 1..<bytes.count {
                #expect(JSONEscape.decode(Array(bytes[0..<cut]), backslash: 0) == .needMore, "\(escape) cut at \(cut)")
            }
        }
    }

    @Test func invalidEscapesAreRejectedAsFoundationDoes() {
        let cases = [
            #"\x"#, #"\a"#, #"\U0041"#, #"\u12G4"#, #"\u-123"#, #"\ud800"# + "a", #"\ud800\n"#, #"\ud800\u0041"#,
            #"\udc00"#, #"\ude00\ud83d"#, #"\uDBFF\uE000"#,
        ]
        for escape in cases {
            #expect(Self.reference(escape) == nil, "Foundation accepts \(escape)")
            guard case .invalid = JSONEscape.decode(Array(escape.utf8), backslash: 0) else {
                Issue.record("\(escape) decoded as \(Self.decodeAll(escape))")
                continue
            }
        }
    }

    @Test func decodingStartsAtTheBackslashInsideLongerText() {
        let bytes = Array(#"ab\u00e9cd"#.utf8)
        #expect(JSONEscape.decode(bytes, backslash: 2) == .scalar("\u{e9}", next: 8))
    }
}
