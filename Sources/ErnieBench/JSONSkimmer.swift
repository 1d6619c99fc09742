/// Reads a few members of a JSON document without building it: the per-chunk path of the request functions.
///
/// Positions are byte offsets of values in `bytes`. A member that occurs twice resolves to the last occurrence, as
/// Python's `json.loads` does. The whole document is validated by `validate()` (SGLang's `json.loads` rejects
/// malformed chunks, and so do we).
struct JSONSkimmer {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Checks that the bytes hold exactly one JSON value and returns its position.
    func validate() throws -> Int {
        var i = 0
        JSONScan.skipWhitespace(bytes, &i)
        let start = i
        var end = try JSONScan.skipValue(bytes, at: i)
        JSONScan.skipWhitespace(bytes, &end)
        guard end == bytes.count else { throw BenchError("invalid JSON at byte \(end): unexpected data after the value") }
        return start
    }

    func isObject(_ at: Int) -> Bool { at < bytes.count && bytes[at] == UInt8(ascii: "{") }
    func isArray(_ at: Int) -> Bool { at < bytes.count && bytes[at] == UInt8(ascii: "[") }
    func isNull(_ at: Int) -> Bool { at < bytes.count && bytes[at] == UInt8(ascii: "n") }
    func isString(_ at: Int) -> Bool { at < bytes.count && bytes[at] == JSONScan.quote }

    /// Position of the value of member `key` of the object at `at`; nil if it is not an object or lacks the key.
    func member(_ key: String, of at: Int) throws -> Int? {
        guard isObject(at) else { return nil }
        let target = Array(key.utf8)
        var found: Int?
        var i = at + 1
        JSONScan.skipWhitespace(bytes, &i)
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { return nil }
        while i < bytes.count {
            JSONScan.skipWhitespace(bytes, &i)
            guard i < bytes.count, bytes[i] == JSONScan.quote else { throw BenchError("invalid JSON at byte \(i)") }
            let (start, end, escaped) = try JSONScan.stringBounds(bytes, quoteAt: i)
            let matches: Bool
            if escaped {
                matches = try JSONScan.decodeString(bytes, start: start, end: end, escaped: true) == key
            } else {
                matches = end - start == target.count && bytes[start..<end].elementsEqual(target)
            }
            i = end + 1
            JSONScan.skipWhitespace(bytes, &i)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw BenchError("invalid JSON at byte \(i)") }
            i += 1
            JSONScan.skipWhitespace(bytes, &i)
            if matches { found = i }
            i = try JSONScan.skipValue(bytes, at: i)
            JSONScan.skipWhitespace(bytes, &i)
            guard i < bytes.count else { break }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            break
        }
        return found
    }

    /// Position of element `n` of the array at `at`; nil if it is not an array or is shorter.
    func element(_ n: Int, of at: Int) throws -> Int? {
        guard isArray(at) else { return nil }
        var i = at + 1
        JSONScan.skipWhitespace(bytes, &i)
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { return nil }
        var k = 0
        while i < bytes.count {
            JSONScan.skipWhitespace(bytes, &i)
            if k == n { return i }
            i = try JSONScan.skipValue(bytes, at: i)
            JSONScan.skipWhitespace(bytes, &i)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ",") else { return nil }
            i += 1
            k += 1
        }
        return nil
    }

    /// The string at `at`; nil if the value is not a string.
    func string(_ at: Int) throws -> String? {
        guard isString(at) else { return nil }
        let (start, end, escaped) = try JSONScan.stringBounds(bytes, quoteAt: at)
        return try JSONScan.decodeString(bytes, start: start, end: end, escaped: escaped)
    }

    /// Whether the value at `at` is a non-empty string (an escape always decodes to at least one character).
    func isNonEmptyString(_ at: Int) -> Bool {
        isString(at) && at + 1 < bytes.count && bytes[at + 1] != JSONScan.quote
    }

    /// The integer at `at` (an integral float counts); nil for anything else.
    func int(_ at: Int) throws -> Int? {
        guard at < bytes.count else { return nil }
        let b = bytes[at]
        guard b == UInt8(ascii: "-") || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) else { return nil }
        return try JSONScan.number(bytes, at: at).0.intValue
    }

    /// The value at `at`, fully parsed.
    func value(_ at: Int) throws -> JSONValue {
        let end = try JSONScan.skipValue(bytes, at: at)
        return try JSONParser.parse(Array(bytes[at..<end]))
    }
}
