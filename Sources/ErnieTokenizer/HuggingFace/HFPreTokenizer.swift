/// The `pre_tokenizer` of a tokenizer.json as a flat list of steps. Supported: `Sequence`, `Metaspace` (replacement,
/// prepend_scheme first/always/never, split) and `ByteLevel` (add_prefix_space, use_regex with GPT-2's pattern).
struct HFPreTokenizer: Sendable {
    enum PrependScheme: Sendable {
        case first, always, never
    }

    enum Step: Sendable {
        case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    }

    let steps: [Step]

    init(json: JSONValue?, reader: JSONReader, key: String) throws {
        var steps: [Step] = []
        try HFPreTokenizer.collect(json, reader: reader, key: key, into: &steps)
        self.steps = steps
    }

    private static func collect(_ json: JSONValue?, reader: JSONReader, key: String, into steps: inout [Step]) throws {
        guard let object = try reader.object(json, key) else { return }
        let type = try reader.requiredString(object["type"], "\(key).type")
        switch type {
        case "Sequence":
            let list = try reader.array(object["pretokenizers"], "\(key).pretokenizers") ?? []
            for (index, item) in list.enumerated() {
                try collect(item, reader: reader, key: "\(key).pretokenizers[\(index)]", into: &steps)
            }
        case "Metaspace":
            let (replacement, scheme) = try metaspaceArguments(object, reader: reader, key: key)
            let split = try reader.bool(object["split"], "\(key).split") ?? true
            steps.append(.metaspace(replacement: replacement, prependScheme: scheme, split: split))
        case "ByteLevel":
            let addPrefixSpace = try reader.bool(object["add_prefix_space"], "\(key).add_prefix_space") ?? true
            let useRegex = try reader.bool(object["use_regex"], "\(key).use_regex") ?? true
            steps.append(.byteLevel(addPrefixSpace: addPrefixSpace, useRegex: useRegex))
        default:
            throw TokenizerError.unsupported(reader.path, "pre-tokenizer", type)
        }
    }

    /// `replacement` (one character) and `prepend_scheme` (default "always"; a legacy `add_prefix_space: false`
    /// means "never") of a Metaspace pre-tokenizer or decoder.
    static func metaspaceArguments(_ object: JSONObject, reader: JSONReader, key: String) throws
        -> (Unicode.Scalar, PrependScheme)
    {
        let replacementString = try reader.requiredString(object["replacement"], "\(key).replacement")
        let scalars = Array(replacementString.unicodeScalars)
        guard scalars.count == 1 else {
            throw TokenizerError.file(reader.path, "\(key).replacement must be one character")
        }
        var scheme = PrependScheme.always
        switch try reader.string(object["prepend_scheme"], "\(key).prepend_scheme") {
        case nil:
            if try reader.bool(object["add_prefix_space"], "\(key).add_prefix_space") == false { scheme = .never }
        case "first": scheme = .first
        case "always": scheme = .always
        case "never": scheme = .never
        case let other?:
            throw TokenizerError.file(reader.path, "\(key).prepend_scheme has unknown value \"\(other)\"")
        }
        return (scalars[0], scheme)
    }

    /// A piece of text being pre-tokenized; `atStart` when it begins at offset 0 of the original input.
    struct Piece {
        var scalars: [Unicode.Scalar]
        var atStart: Bool
    }

    /// The words of one text segment.
    func split(_ text: String, atStart: Bool) -> [[UInt8]] {
        var pieces = [Piece(scalars: Array(text.unicodeScalars), atStart: atStart)]
        for step in steps {
            var next: [Piece] = []
            for piece in pieces { HFPreTokenizer.apply(step, to: piece, into: &next) }
            pieces = next
        }
        return pieces.map { piece in
            var bytes: [UInt8] = []
            for scalar in piece.scalars { bytes.appendUTF8(scalar) }
            return bytes
        }
    }

    private static func apply(_ step: Step, to piece: Piece, into output: inout [Piece]) {
        switch step {
        case .metaspace(let replacement, let scheme, let split):
            var scalars = piece.scalars.map { $0 == " " ? replacement : $0 }
            let startsWithReplacement = scalars.first == replacement
            if !startsWithReplacement && (scheme == .always || (scheme == .first && piece.atStart)) {
                scalars.insert(replacement, at: 0)
            }
            guard split else {
                if !scalars.isEmpty { output.append(Piece(scalars: scalars, atStart: piece.atStart)) }
                return
            }
            // Split with the replacement merged into the following piece.
            var start = 0
            for index in scalars.indices where scalars[index] == replacement && index > start {
                output.append(Piece(scalars: Array(scalars[start..<index]), atStart: piece.atStart && start == 0))
                start = index
            }
            if start < scalars.count {
                output.append(Piece(scalars: Array(scalars[start...]), atStart: piece.atStart && start == 0))
            }
        case .byteLevel(let addPrefixSpace, let useRegex):
            var scalars = piece.scalars
            if addPrefixSpace && scalars.first != " " { scalars.insert(" ", at: 0) }
            let ranges = useRegex ? ByteLevel.split(scalars) : (scalars.isEmpty ? [] : [0..<scalars.count])
            for range in ranges {
                var bytes: [UInt8] = []
                for scalar in scalars[range] { bytes.appendUTF8(scalar) }
                let mapped = ByteLevel.encode(bytes)
                output.append(
                    Piece(scalars: Array(mapped.unicodeScalars), atStart: piece.atStart && range.lowerBound == 0))
            }
        }
    }
}
