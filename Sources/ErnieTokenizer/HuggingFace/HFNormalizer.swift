import Foundation

/// The `normalizer` of a tokenizer.json, as a flat list of steps (`Sequence`s are flattened). Supported types:
/// `Sequence`, `Prepend`, `Replace` with a string pattern, `NFC`, `NFD`, `NFKC`, `NFKD` (Unicode normalization forms
/// through Foundation). Anything else is rejected at load with the type's name.
struct HFNormalizer: Sendable {
    enum Step: Sendable {
        case prepend([UInt8])
        case replace(pattern: [UInt8], content: [UInt8])
        case nfc, nfd, nfkc, nfkd
    }

    let steps: [Step]

    init(json: JSONValue?, reader: JSONReader, key: String) throws {
        var steps: [Step] = []
        try HFNormalizer.collect(json, reader: reader, key: key, into: &steps)
        self.steps = steps
    }

    private static func collect(_ json: JSONValue?, reader: JSONReader, key: String, into steps: inout [Step]) throws {
        guard let object = try reader.object(json, key) else { return }
        let type = try reader.requiredString(object["type"], "\(key).type")
        switch type {
        case "Sequence":
            let list = try reader.array(object["normalizers"], "\(key).normalizers") ?? []
            for (index, item) in list.enumerated() {
                try collect(item, reader: reader, key: "\(key).normalizers[\(index)]", into: &steps)
            }
        case "Prepend":
            steps.append(.prepend(Array(try reader.requiredString(object["prepend"], "\(key).prepend").utf8)))
        case "Replace":
            let (pattern, content) = try HFNormalizer.replaceArguments(object, reader: reader, key: key)
            steps.append(.replace(pattern: pattern, content: content))
        case "NFC": steps.append(.nfc)
        case "NFD": steps.append(.nfd)
        case "NFKC": steps.append(.nfkc)
        case "NFKD": steps.append(.nfkd)
        default:
            throw TokenizerError.unsupported(reader.path, "normalizer", type)
        }
    }

    /// The string pattern and content of a `Replace` normalizer or decoder (`Regex` patterns are not supported).
    static func replaceArguments(_ object: JSONObject, reader: JSONReader, key: String) throws
        -> (pattern: [UInt8], content: [UInt8])
    {
        let pattern = try reader.requiredObject(object["pattern"], "\(key).pattern")
        guard let string = try reader.string(pattern["String"], "\(key).pattern.String") else {
            if pattern["Regex"] != nil { throw TokenizerError.unsupported(reader.path, "Replace pattern", "Regex") }
            throw TokenizerError.file(reader.path, "\(key).pattern must be {\"String\": ...}")
        }
        guard !string.isEmpty else { throw TokenizerError.file(reader.path, "\(key).pattern is empty") }
        let content = try reader.requiredString(object["content"], "\(key).content")
        return (Array(string.utf8), Array(content.utf8))
    }

    func apply(_ text: String) -> String {
        var text = text
        for step in steps {
            switch step {
            case .prepend(let prefix):
                if !text.isEmpty { text = String(decoding: prefix, as: UTF8.self) + text }
            case .replace(let pattern, let content):
                text = String(decoding: HFNormalizer.replacing(Array(text.utf8), pattern, content), as: UTF8.self)
            case .nfc: text = text.precomposedStringWithCanonicalMapping
            case .nfd: text = text.decomposedStringWithCanonicalMapping
            case .nfkc: text = text.precomposedStringWithCompatibilityMapping
            case .nfkd: text = text.decomposedStringWithCompatibilityMapping
            }
        }
        return text
    }

    /// All non-overlapping occurrences of `pattern` (left to right) replaced by `content`.
    static func replacing(_ bytes: [UInt8], _ pattern: [UInt8], _ content: [UInt8]) -> [UInt8] {
        guard bytes.count >= pattern.count, let first = pattern.first else { return bytes }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == first && index + pattern.count <= bytes.count
                && bytes[index..<(index + pattern.count)].elementsEqual(pattern)
            {
                output.append(contentsOf: content)
                index += pattern.count
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return output
    }
}
