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

    static func load(_ name: String, format: Tokenizer.FormatPreference = .automatic) throws -> Tokenizer {
        try Tokenizer.load(directory: directory(name), format: format)
    }

    /// Reference ids and texts of one fixture folder (see `write_expected` in the generator).
    struct Expected {
        var ids: [[Int]]
        /// Decoded text by line index, where it differs from the line.
        var decoded: [Int: String]
        var decodedSkipSpecial: [Int: String]
        var idsWithoutSpecialParsing: [Int: [Int]]
        var meta: [String: Any]

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
