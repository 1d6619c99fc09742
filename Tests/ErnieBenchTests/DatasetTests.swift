import Foundation
import Testing

@testable import ErnieBench

@Suite struct DatasetTests {
    let tokenizer = ByteTokenizer()

    func file() throws -> ShareGPTFile { try ShareGPTFile(path: BenchFixtures.path("sharegpt_small.json")) }

    /// The fixture's first turns, read with Foundation's parser.
    func humanTurns() throws -> [String] {
        let data = try #require(FileManager.default.contents(atPath: BenchFixtures.path("sharegpt_small.json")))
        let array = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return array.compactMap { element in
            let turns = (element["conversations"] ?? element["conversation"]) as? [[String: Any]] ?? []
            return turns.count >= 2 ? turns[0]["value"] as? String : nil
        }
    }

    @Test func randomLengthsFollowSGLangsRange() throws {
        var rng = SGLangRandom(seed: 1)
        let lens = try Datasets.randomLengths(fullLen: 100, rangeRatio: 0.25, count: 5000, rng: &rng)
        #expect(lens.min() == 25 && lens.max() == 100)
        let zero = try Datasets.randomLengths(fullLen: 10, rangeRatio: 0.0, count: 2000, rng: &rng)
        #expect(zero.min() == 1 && zero.max() == 10)  // max(int(len*0), 1) = 1
        let fixed = try Datasets.randomLengths(fullLen: 64, rangeRatio: 1.0, count: 50, rng: &rng)
        #expect(Set(fixed) == [64])
        let mean = Double(zero.reduce(0, +)) / Double(zero.count)
        #expect(abs(mean - 5.5) < 0.3)
        #expect(throws: BenchError.self) { try Datasets.randomLengths(fullLen: 10, rangeRatio: 1.5, count: 1, rng: &rng) }
    }

    @Test func seededSamplingIsDeterministic() throws {
        func build(_ seed: Int) throws -> [DatasetRow] {
            var rng = SGLangRandom(seed: seed)
            return try Datasets.random(
                inputLen: 40, outputLen: 9, numPrompts: 6, rangeRatio: 0.5, tokenizer: tokenizer, file: file(),
                returnText: true, rng: &rng)
        }
        #expect(try build(1) == build(1))
        #expect(try build(1) != build(2))
    }

    @Test func randomPromptsAreShareGPTTurnsFittedToTheSampledLength() throws {
        var rng = SGLangRandom(seed: 3)
        let humans = Set(try humanTurns())
        let rows = try Datasets.random(
            inputLen: 120, outputLen: 9, numPrompts: 10, rangeRatio: 0.0, tokenizer: tokenizer, file: file(),
            returnText: false, rng: &rng)
        #expect(rows.count == 10)  // exactly the conversations with two or more turns
        var sources = Set<String>()
        for row in rows {
            guard case .ids(let ids) = row.prompt else { Issue.record("expected ids"); continue }
            #expect(ids.count == row.promptLen && (1...120).contains(row.promptLen))
            #expect((1...9).contains(row.outputLen))
            // The ids are the bytes of one first turn, truncated or repeated.
            let source = try #require(humans.first { human in
                let h = Array(human.utf8).map(Int.init)
                return ids.enumerated().allSatisfy { $0.element == h[$0.offset % h.count] }
            })
            sources.insert(source)
        }
        #expect(sources.count == 10)  // each conversation used once, in shuffled order
        // As text: the decoded form of those ids.
        var rng2 = SGLangRandom(seed: 3)
        let textRows = try Datasets.random(
            inputLen: 120, outputLen: 9, numPrompts: 10, rangeRatio: 0.0, tokenizer: tokenizer, file: file(),
            returnText: true, rng: &rng2)
        for (a, b) in zip(rows, textRows) {
            guard case .ids(let ids) = a.prompt else { continue }
            #expect(b.prompt == .text(tokenizer.decodeIDs(ids)) && a.promptLen == b.promptLen)
        }
    }

    @Test func fittedRepeatsOrTruncates() {
        #expect(Datasets.fitted([1, 2, 3], to: 7) == [1, 2, 3, 1, 2, 3, 1])
        #expect(Datasets.fitted([1, 2, 3], to: 2) == [1, 2])
        #expect(Datasets.fitted([], to: 2) == [])
    }

    @Test func shareGPTDropsShortAndLongPairs() throws {
        let data = try #require(FileManager.default.contents(atPath: BenchFixtures.path("sharegpt_small.json")))
        let array = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        var kept: [String: Int] = [:]
        for element in array {
            let turns = (element["conversations"] ?? element["conversation"]) as? [[String: Any]] ?? []
            guard turns.count >= 2, let p = turns[0]["value"] as? String, let c = turns[1]["value"] as? String else {
                continue
            }
            if p.utf8.count >= 2, c.utf8.count >= 2, p.utf8.count + c.utf8.count <= 150 { kept[p] = c.utf8.count }
        }
        #expect(!kept.isEmpty && kept.count < 10)
        var rng = SGLangRandom(seed: 5)
        let rows = try Datasets.shareGPT(
            numPrompts: 100, tokenizer: tokenizer, file: file(), fixedOutputLen: nil, contextLen: 150,
            promptSuffix: "", rng: &rng)
        #expect(rows.count == kept.count)
        for row in rows {
            guard case .text(let text) = row.prompt else { Issue.record("expected text"); continue }
            #expect(row.promptLen == text.utf8.count && kept[text] == row.outputLen)
        }
        #expect(throws: BenchError.self) {
            var r = SGLangRandom(seed: 1)
            _ = try Datasets.shareGPT(
                numPrompts: 1, tokenizer: tokenizer, file: file(), fixedOutputLen: 3, contextLen: nil,
                promptSuffix: "", rng: &r)
        }
    }

    @Test func randomIDsFollowTheOffsetRule() throws {
        var rng = SGLangRandom(seed: 9)
        let rows = try Datasets.randomIDs(
            inputLen: 300, outputLen: 5, numPrompts: 4, rangeRatio: 1.0, tokenizer: tokenizer, returnText: false,
            rng: &rng)
        for (i, row) in rows.enumerated() {
            guard case .ids(let ids) = row.prompt else { Issue.record("expected ids"); continue }
            #expect(ids.count == 300)
            let offset = (ids[0] - i + 256) % 256
            #expect(ids.enumerated().allSatisfy { $0.element == (offset + i + $0.offset) % 256 })
        }
    }

    @Test func generatedSharedPrefixGroupsShareTheirSystemPrompt() throws {
        var options = Datasets.SharedPrefixOptions()
        options.numGroups = 3
        options.promptsPerGroup = 4
        options.systemPromptLen = 50
        options.questionLen = 8
        options.outputLen = 6
        var rng = SGLangRandom(seed: 2)
        let rows = try Datasets.generatedSharedPrefix(options, tokenizer: ASCIITokenizer(), rng: &rng)
        #expect(rows.count == 12 && rows.allSatisfy { $0.outputLen == 6 && $0.promptLen == 50 + 2 + 8 })
        var groups: [String: Int] = [:]
        for row in rows {
            guard case .text(let text) = row.prompt else { continue }
            groups[String(text.prefix(50)), default: 0] += 1
        }
        #expect(groups.count == 3 && groups.values.allSatisfy { $0 == 4 })
    }

    @Test func truncatedShareGPTKeepsItsCompleteConversations() throws {
        let bytes = Array(try #require(FileManager.default.contents(atPath: BenchFixtures.path("sharegpt_small.json"))))
        let whole = try ShareGPTFile(bytes: bytes, path: "whole")
        #expect(whole.count == 12 && !whole.droppedTail)
        let cut = try ShareGPTFile(bytes: Array(bytes[..<(bytes.count * 2 / 3)]), path: "cut")
        #expect(cut.droppedTail && cut.count > 0 && cut.count < 12)
        for i in 0..<cut.count { #expect(try cut.firstTwoTurns(i)?.prompt == whole.firstTwoTurns(i)?.prompt) }
        #expect(throws: BenchError.self) { try ShareGPTFile(bytes: Array("{\"a\": 1}".utf8), path: "obj") }
        #expect(throws: BenchError.self) { try ShareGPTFile(bytes: Array("[{\"conv".utf8), path: "tiny") }
    }

    @Test func missingDatasetGivesAClearError() {
        #expect(throws: BenchError.self) { try ShareGPTLocator.locate(datasetPath: "/nonexistent/sharegpt.json") }
    }
}

/// One token per printable ASCII character (ids 32...126), so decoded random tokens re-encode to the same count.
struct ASCIITokenizer: BenchTokenizer {
    func encodeText(_ text: String) -> [Int] { text.utf8.map { Int($0) } }
    func decodeIDs(_ ids: [Int]) -> String { String(decoding: ids.map { UInt8(clamping: $0) }, as: UTF8.self) }
    var vocabularySize: Int { 127 }
    var allTokenIDs: [Int] { Array(32...126) }
}
