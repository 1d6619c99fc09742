import Foundation
import Testing

@testable import ErnieServer

/// The writer's output must parse back (with Foundation's `JSONSerialization`, an independent parser) to the same
/// values, keep key order, and the encoder must keep the order keys were encoded in.
@Suite struct JSONWriterTests {
    static let samples: [JSONValue] = [
        "plain",
        "quotes \" and backslashes \\ and / slashes",
        "controls \u{0} \u{1} \u{8} \u{9} \u{A} \u{C} \u{D} \u{1F} end",
        "unicode é 中文 😀 \u{2028}",
        ["nested": ["a": [1, 2.5, -0.125, true, false, nil], "b": ["x": "y"]], "empty": [], "obj": [:]],
        .double(1e-7), .double(-3.0), .double(1.5e300), .int(Int.min), .int(Int.max),
    ]

    @Test(arguments: samples)
    func roundTripsThroughFoundation(_ value: JSONValue) throws {
        let text = JSONWriter.string(value)
        let reference = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        let expected = JSONParserTests.foundationObject(value)
        #expect(NSArray(array: [reference]).isEqual(NSArray(array: [expected])), "\(text)")
        #expect(try JSONParser.parse(text) == value || value.hasIntegralDouble, "\(text)")
    }

    @Test func writesCompactOrderedJSON() {
        let value: JSONValue = ["z": 1, "a": ["y": nil, "b": [true]], "m": "é"]
        #expect(JSONWriter.string(value) == #"{"z":1,"a":{"y":null,"b":[true]},"m":"é"}"#)
        #expect(JSONWriter.string(.double(.nan)) == "null", "JSON has no NaN")
        #expect(JSONWriter.string(.double(2)) == "2.0", "integral floats stay floats, as Python writes them")
        #expect(JSONWriter.string(.float(-0.1)) == "-0.1", "float32 values are written in their shortest form")
    }

    struct Sample: Encodable {
        var zeta = 1
        var alpha: String? = nil
        var middle = [0.5]
        var last: Float = 0.25
    }

    @Test func encoderKeepsDeclarationOrderAndOmitsNil() throws {
        let value = try JSONValueEncoder().encode(Sample())
        #expect(JSONWriter.string(value) == #"{"zeta":1,"middle":[0.5],"last":0.25}"#)
    }
}

extension JSONValue {
    /// Whether the value holds a double with an integral value (written as `2.0`, read back as a double).
    var hasIntegralDouble: Bool {
        switch self {
        case .double(let number): number == number.rounded()
        case .array(let values): values.contains { $0.hasIntegralDouble }
        case .object(let object): object.members.contains { $0.value.hasIntegralDouble }
        default: false
        }
    }
}
