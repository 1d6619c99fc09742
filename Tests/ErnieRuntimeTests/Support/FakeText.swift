import ErnieRuntime

/// Token text for tests: token `v` decodes to `FakeText.pieces[v % count]`; token 0 and the EOS token are special.
enum FakeText {
    static let pieces: [String] = [
        "<pad>", "</s>", "a", "b", "c", " ", "ab", "ba", "é", "\n", "x", "yz", "!", "STOP", "S", "TOP",
    ]
    static let special: Set<Int> = [0, 1]

    static func piece(_ id: Int) -> String { pieces[id % pieces.count] }

    static func text(_ ids: [Int], skipSpecial: Bool = true) -> String {
        ids.map { skipSpecial && special.contains($0) ? "" : piece($0) }.joined()
    }

    struct Decoder: IncrementalTextDecoder {
        var skipSpecial: Bool
        mutating func append(_ id: Int) -> String { skipSpecial && FakeText.special.contains(id) ? "" : piece(id) }
        mutating func finish() -> String { "" }
    }

    static let factory: TextDecoderFactory = { skip in Decoder(skipSpecial: skip) }
}
