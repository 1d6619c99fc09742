import Foundation
import Testing

@testable import ErnieBench

/// The seeded streams and the request sets against Python and NumPy themselves (scripts/fixtures/bench/make_fixtures.py
/// seeds `np.random` and `random` as SGLang does and applies the documented dataset rules with a byte tokenizer).
@Suite struct SGLangRandomTests {
    static func reference() throws -> [String: Any] { try BenchFixtures.json("sglang_random.json") }

    @Test func streamsMatchNumPyAndPython() throws {
        let streams = try #require(try Self.reference()["streams"] as? [[String: Any]])
        #expect(streams.count == 3)
        for stream in streams {
            let seed = try #require(stream["seed"] as? Int)
            let numpy = try #require(stream["numpy"] as? [String: Any])
            let python = try #require(stream["python"] as? [String: Any])
            var rng = SGLangRandom(seed: seed)
            #expect(rng.numpyRandint(1, 1025, count: 20) == numpy["randint_1_1025"] as? [Int], "seed \(seed)")
            #expect(rng.numpyRandint(5, 6, count: 3) == numpy["randint_empty_range"] as? [Int])
            #expect(rng.numpyRandint(0, 103_424, count: 5) == numpy["randint_vocab"] as? [Int])
            let gaps = (0..<5).map { _ in rng.numpyExponential(scale: 0.25) }
            let expectedGaps = try #require(numpy["exponential_quarter"] as? [Double])
            #expect(zip(gaps, expectedGaps).allSatisfy { abs($0 - $1) <= 1e-15 * max(1, $1) })
            #expect(rng.numpyRandint(0, 1 << 32, count: 2) == numpy["randint_full_32"] as? [Int])
            #expect(rng.numpyRandint(0, (1 << 40) + 3, count: 3) == numpy["randint_40_bits"] as? [Int])
            #expect(rng.numpyRandint(1, 1025, count: 3) == numpy["randint_after"] as? [Int])

            var list = Array(0..<50)
            rng.pythonShuffle(&list)
            #expect(list == python["shuffle_50"] as? [Int])
            var big = Array(0..<70_000)
            rng.pythonShuffle(&big)
            #expect(Array(big.prefix(20)) == python["shuffle_70000_head"] as? [Int])
            #expect(rng.pythonChoices(Array(0..<100), count: 10) == python["choices_100"] as? [Int])
            // Exact binary fractions (k / 2^53); the tolerance is for Foundation's decimal parsing of the fixture.
            let randoms = (0..<3).map { _ in rng.pythonRandom() }
            let expectedRandoms = try #require(python["random"] as? [Double])
            #expect(zip(randoms, expectedRandoms).allSatisfy { abs($0 - $1) <= 1e-15 })
            var fresh = SGLangRandom(seed: seed)
            #expect((0..<3).map { _ in fresh.pythonRandbelow((1 << 40) + 5) } == python["fresh_randbelow_2_40_plus_5"] as? [Int])
        }
    }

    func file() throws -> ShareGPTFile { try ShareGPTFile(path: BenchFixtures.path("sharegpt_small.json")) }

    func rows(_ key: String) throws -> [[String: Any]] {
        let datasets = try #require(try Self.reference()["datasets"] as? [String: Any])
        return try #require((datasets[key] as? [String: Any])?["rows"] as? [[String: Any]])
    }

    @Test(arguments: [("random_seed1", 1, 0.0), ("random_seed7", 7, 0.5)])
    func randomDatasetAndArrivalsMatchSGLangs(_ key: String, _ seed: Int, _ ratio: Double) throws {
        let expected = try rows(key)
        var rng = SGLangRandom(seed: seed)
        let built = try Datasets.random(
            inputLen: 90, outputLen: 20, numPrompts: 6, rangeRatio: ratio, tokenizer: ByteTokenizer(), file: file(),
            returnText: false, rng: &rng)
        #expect(built.count == expected.count)
        for (row, reference) in zip(built, expected) {
            #expect(row.prompt == .ids(try #require(reference["ids"] as? [Int])))
            #expect(row.promptLen == reference["prompt_len"] as? Int && row.outputLen == reference["output_len"] as? Int)
        }
        let datasets = try #require(try Self.reference()["datasets"] as? [String: Any])
        let gaps = try #require((datasets[key] as? [String: Any])?["arrival_gaps_rate4"] as? [Double])
        let drawn = (0..<6).map { _ in rng.numpyExponential(scale: 1.0 / 4.0) }
        #expect(zip(drawn, gaps).allSatisfy { abs($0 - $1) <= 1e-15 * max(1, $1) })
    }

    @Test func randomIDsMatchSGLangs() throws {
        let expected = try rows("random_ids_seed3")
        var rng = SGLangRandom(seed: 3)
        let built = try Datasets.randomIDs(
            inputLen: 40, outputLen: 9, numPrompts: 4, rangeRatio: 0.25, tokenizer: ByteTokenizer(), returnText: false,
            rng: &rng)
        #expect(built.count == expected.count)
        for (row, reference) in zip(built, expected) {
            #expect(row.prompt == .ids(try #require(reference["ids"] as? [Int])))
            #expect(row.promptLen == reference["prompt_len"] as? Int && row.outputLen == reference["output_len"] as? Int)
        }
    }

    @Test func shareGPTMatchesSGLangs() throws {
        let expected = try rows("sharegpt_seed5_context150")
        var rng = SGLangRandom(seed: 5)
        let built = try Datasets.shareGPT(
            numPrompts: 100, tokenizer: ByteTokenizer(), file: file(), fixedOutputLen: nil, contextLen: 150,
            promptSuffix: "", rng: &rng)
        #expect(built.count == expected.count)
        for (row, reference) in zip(built, expected) {
            #expect(row.prompt == .text(try #require(reference["prompt"] as? String)))
            #expect(row.promptLen == reference["prompt_len"] as? Int && row.outputLen == reference["output_len"] as? Int)
        }
    }

    @Test func generatedSharedPrefixMatchesSGLangsWithAnOrderedVocabulary() throws {
        let expected = try rows("gsp_seed2")
        var options = Datasets.SharedPrefixOptions()
        options.numGroups = 3
        options.promptsPerGroup = 4
        options.systemPromptLen = 50
        options.questionLen = 8
        options.outputLen = 6
        options.rangeRatio = 0.5
        var rng = SGLangRandom(seed: 2)
        let built = try Datasets.generatedSharedPrefix(options, tokenizer: ASCIITokenizer(), rng: &rng)
        #expect(built.count == expected.count)
        for (row, reference) in zip(built, expected) {
            #expect(row.prompt == .text(try #require(reference["prompt"] as? String)))
            #expect(row.promptLen == reference["prompt_len"] as? Int && row.outputLen == reference["output_len"] as? Int)
        }
    }
}
