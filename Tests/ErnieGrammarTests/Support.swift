import ErnieGrammar
import ErnieTestSupport
import Foundation

/// Helpers shared by the grammar tests.
enum GrammarTestSupport {
    /// A vocabulary of the 256 single bytes (token `b` is byte `b`): masks are cheap and every string is reachable.
    static let byteVocabulary = TokenVocabulary(
        entries: (0..<256).map { TokenVocabulary.Entry(kind: .text, bytes: [UInt8($0)]) })

    /// Whether `grammar` matches all of `text` (fed byte by byte through a matcher).
    static func matches(_ grammar: CompiledGrammar, _ text: String) throws -> Bool {
        var matcher = grammar.makeMatcher()
        guard try matcher.accept(bytes: Array(text.utf8)) else { return false }
        return matcher.isAccepting
    }

    static func loadJSON(_ relative: String) throws -> Any {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(relative)))
        return try JSONSerialization.jsonObject(with: data)
    }

    /// The demo model's folder, if it is checked out.
    static var demoModel: String? {
        let path = Fixtures.checkout + "/models/ernie-demo"
        return FileManager.default.fileExists(atPath: path + "/tokenizer.model") ? path : nil
    }

    /// Whether the mask allows `token`.
    static func allows(_ words: [UInt32], _ token: Int) -> Bool {
        token / 32 < words.count && words[token / 32] & (1 << UInt32(token % 32)) != 0
    }
}

/// A small deterministic random number generator for reproducible walks.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension GrammarTestSupport {
    static func fixturePath(_ relative: String) -> String { Fixtures.path(relative) }
}
