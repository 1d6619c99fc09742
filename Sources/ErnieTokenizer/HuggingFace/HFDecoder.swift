/// The `decoder` of a tokenizer.json as a flat list of steps. Supported: `Sequence`, `Replace` (string pattern),
/// `ByteFallback`, `Fuse`, `Strip`, `Metaspace`, `ByteLevel`; no decoder joins tokens with spaces.
///
/// The tokenizers library decodes a whole token list at once (`decode_chain` of each step in turn). Here every step is
/// a streaming transducer over "items" — text plus whether it starts a new token — so tokens can be fed one at a time
/// and the concatenated output equals the library's result: after `Fuse` (or `ByteLevel`) the rest of the stream is
/// one token, `ByteFallback` holds a run of byte tokens until it ends (a run with any invalid UTF-8 becomes one U+FFFD
/// per byte), `Strip` holds back trailing characters it may remove, and `Replace` holds back a partial pattern.
struct HFDecoder: Sendable {
    enum Step: Sendable {
        case replace(pattern: [UInt8], content: [UInt8])
        case byteFallback
        case fuse
        case strip(content: Unicode.Scalar, start: Int, stop: Int)
        case metaspace(replacement: Unicode.Scalar, prependScheme: HFPreTokenizer.PrependScheme)
        case byteLevel
        /// No decoder: tokens joined with " ".
        case joinWithSpaces
    }

    let steps: [Step]

    init(json: JSONValue?, reader: JSONReader) throws {
        var steps: [Step] = []
        try HFDecoder.collect(json, reader: reader, key: "decoder", into: &steps)
        if steps.isEmpty && reader.isNull(json) { steps = [.joinWithSpaces] }
        // Steps that need whole tokens cannot follow a step that fuses the stream.
        var fused = false
        for step in steps {
            switch step {
            case .byteFallback, .byteLevel:
                if fused {
                    throw TokenizerError.file(
                        reader.path, "decoder: ByteFallback/ByteLevel after Fuse or ByteLevel is not supported")
                }
                if case .byteLevel = step { fused = true }
            case .fuse, .joinWithSpaces: fused = true
            default: break
            }
        }
        self.steps = steps
    }

    private static func collect(_ json: JSONValue?, reader: JSONReader, key: String, into steps: inout [Step]) throws {
        guard let object = try reader.object(json, key) else { return }
        let type = try reader.requiredString(object["type"], "\(key).type")
        switch type {
        case "Sequence":
            let list = try reader.array(object["decoders"], "\(key).decoders") ?? []
            for (index, item) in list.enumerated() {
                try collect(item, reader: reader, key: "\(key).decoders[\(index)]", into: &steps)
            }
        case "Replace":
            let (pattern, content) = try HFNormalizer.replaceArguments(object, reader: reader, key: key)
            steps.append(.replace(pattern: pattern, content: content))
        case "ByteFallback": steps.append(.byteFallback)
        case "Fuse": steps.append(.fuse)
        case "Strip":
            let content = Array(try reader.requiredString(object["content"], "\(key).content").unicodeScalars)
            guard content.count == 1 else {
                throw TokenizerError.file(reader.path, "\(key).content must be one character")
            }
            let start = try reader.int(object["start"], "\(key).start") ?? 0
            let stop = try reader.int(object["stop"], "\(key).stop") ?? 0
            guard start >= 0 && stop >= 0 else { throw TokenizerError.file(reader.path, "\(key): negative start/stop") }
            steps.append(.strip(content: content[0], start: start, stop: stop))
        case "Metaspace":
            let (replacement, scheme) = try HFPreTokenizer.metaspaceArguments(object, reader: reader, key: key)
            steps.append(.metaspace(replacement: replacement, prependScheme: scheme))
        case "ByteLevel": steps.append(.byteLevel)
        default:
            throw TokenizerError.unsupported(reader.path, "decoder", type)
        }
    }
}

/// Streaming state of an `HFDecoder`.
struct HFDecodeState: Sendable {
    /// Text flowing between steps; `startsToken` marks the first item of each token.
    struct Item {
        var text: [UInt8]
        var startsToken: Bool
    }

    private var stages: [HFDecoderStage]

    init(decoder: HFDecoder) {
        var stages: [HFDecoderStage] = []
        var fused = false
        for step in decoder.steps {
            stages.append(HFDecoderStage(step: step, fusedUpstream: fused))
            switch step {
            case .fuse, .byteLevel, .joinWithSpaces: fused = true
            default: break
            }
        }
        self.stages = stages
    }

    /// Feeds one token; appends the text that became final.
    mutating func push(token: [UInt8], into output: inout [UInt8]) {
        run([Item(text: token, startsToken: true)], from: 0, into: &output)
    }

    /// Flushes every step.
    mutating func finish(into output: inout [UInt8]) {
        for index in stages.indices {
            var items: [Item] = []
            stages[index].finish(into: &items)
            run(items, from: index + 1, into: &output)
        }
    }

    private mutating func run(_ items: [Item], from first: Int, into output: inout [UInt8]) {
        var items = items
        for index in first..<stages.count {
            var next: [Item] = []
            for item in items { stages[index].process(item, into: &next) }
            items = next
        }
        for item in items { output.append(contentsOf: item.text) }
    }
}
