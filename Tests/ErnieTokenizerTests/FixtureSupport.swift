import ErnieTestSupport
import Foundation
import Testing

@testable import ErnieTokenizer

/// The committed reference data of `scripts/fixtures/tokenizer/generate.py`.
enum TokenizerFixtures {
    /// The test lines (GSM8K, CJK, emoji, whitespace runs, NFKC-changed characters, code, special tokens inline...).
    static let lines: [String] = {
        guard let data = FileManager.default.contents(atPath: Fixtures.path("tokenizer/lines.json")),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let lines = object["lines"] as? [String]
        else { return [] }
        return lines
    }()

    static func directory(_ name: String) -> String { Fixtures.path("tokenizer/\(name)") }

    /// Fixtures checked against every test line; the others are variants checked on the first lines only.
    static let mainFolders: Set<String> = [
        "sp-ernie", "sp-unigram-nfkc", "sp-bpe-nfkc", "sp-unigram-suffix", "hf-ernie", "hf-llama-legacy",
        "hf-bytelevel",
    ]

    /// Loads a fixture folder. A variant without a folder (`meta.variantOf`) is written to a scratch folder first:
    /// the other fixture's tokenizer.json with the top-level keys in `meta.replace` replaced.
    static func load(_ name: String, format: Tokenizer.FormatPreference = .automatic) throws -> Tokenizer {
        if FileManager.default.fileExists(atPath: directory(name)) {
            return try Tokenizer.load(directory: directory(name), format: format)
        }
        let meta = try expected(name).meta
        let source = try #require(meta["variantOf"] as? String, "\(name): no folder and no variantOf")
        let replace = try #require(meta["replace"] as? [String: Any])
        var json = try TemporaryFolder.fixtureJSON(source, "tokenizer.json")
        json.merge(replace) { _, new in new }
        let folder = try TemporaryFolder()
        try folder.write("tokenizer.json", json: json)
        return try Tokenizer.load(directory: folder.path, format: format)
    }

    /// Reference ids and texts of one fixture folder (see `write_expected` in the generator).
    struct Expected {
        var ids: [[Int]]
        /// Decoded text by line index, where it differs from the line.
        var decoded: [Int: String]
        var decodedSkipSpecial: [Int: String]
        var idsWithoutSpecialParsing: [Int: [Int]]
        var meta: [String: Any]

        /// Arbitrary id sequences (byte pieces, control/unknown/added ids, ids past the vocabulary) and their reference
        /// decodings, with and without skipping special tokens.
        var decodeCases: [(ids: [Int], text: String, textSkipSpecial: String)] {
            (meta["decodeCases"] as? [[String: Any]] ?? []).compactMap { item in
                guard let ids = item["ids"] as? [Int], let text = item["text"] as? String,
                    let skipped = item["textSkipSpecial"] as? String
                else { return nil }
                return (ids, text, skipped)
            }
        }

        func decodedText(_ index: Int) -> String { decoded[index] ?? TokenizerFixtures.lines[index] }
        func skippedText(_ index: Int) -> String { decodedSkipSpecial[index] ?? decodedText(index) }
        func idsPlain(_ index: Int) -> [Int] { idsWithoutSpecialParsing[index] ?? ids[index] }
    }

    static func expected(_ name: String) throws -> Expected {
        let path = Fixtures.path("tokenizer/expected/\(name).json")
        let data = try #require(FileManager.default.contents(atPath: path), "missing \(path)")
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        func byIndex<T>(_ key: String, _ type: T.Type) throws -> [Int: T] {
            let raw = try #require(object[key] as? [String: Any], "\(key) in \(path)")
            var result: [Int: T] = [:]
            for (index, value) in raw { result[try #require(Int(index))] = try #require(value as? T) }
            return result
        }
        return Expected(
            ids: try #require(object["ids"] as? [[Int]]),
            decoded: try byIndex("decoded", String.self),
            decodedSkipSpecial: try byIndex("decodedSkipSpecial", String.self),
            idsWithoutSpecialParsing: try byIndex("idsWithoutSpecialParsing", [Int].self),
            meta: try #require(object["meta"] as? [String: Any])
        )
    }

    /// A short description of a line for failure messages.
    static func describe(_ index: Int) -> String {
        let line = lines[index]
        let shown = line.count > 80 ? String(line.prefix(80)) + "…" : line
        return "line \(index): \(shown.debugDescription)"
    }
}

/// Compares reference data line by line, reporting at most a few failures per check.
struct LineComparison {
    var failures = 0
    let limit = 5

    mutating func check<T: Equatable>(_ actual: T, _ expected: T, _ what: @autoclosure () -> String) {
        guard actual != expected else { return }
        failures += 1
        if failures <= limit {
            Issue.record("\(what())\n  expected: \(expected)\n  actual:   \(actual)")
        }
    }
}
