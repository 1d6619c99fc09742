import ErnieGrammar
import ErnieTokenizer
import Foundation
import Testing

/// Cost of the per-step work of a constrained request (accept the sampled token, then compute the next mask) on
/// the demo model's 12K vocabulary and on a synthetic 103K one. Prints the numbers with `ERNIE_GRAMMAR_BENCH=1`
/// (more walks); always checks that warm steps stay far below a decode step. `ERNIE_GRAMMAR_BENCH_TOKENIZER=DIR`
/// adds the vocabulary of the tokenizer in DIR (for example a 103K-piece SentencePiece model).
@Suite(.serialized) struct MaskCostTests {
    static let verbose = ProcessInfo.processInfo.environment["ERNIE_GRAMMAR_BENCH"] == "1"

    static let schema = #"""
        {"type": "object", "properties": {
            "name": {"type": "string", "maxLength": 20},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "email": {"type": "string", "format": "email"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 10}, "maxItems": 4},
            "address": {"type": "object", "properties": {"city": {"type": "string"},
                        "zip": {"type": "string", "pattern": "[0-9]{5}"}}, "required": ["city"]}},
         "required": ["name", "age", "address"]}
        """#

    /// 103K distinct tokens: the demo vocabulary plus concatenations of two or three of its pieces (how BPE merges
    /// grow a vocabulary), plus the 256 byte tokens.
    static func syntheticVocabulary(from demo: TokenVocabulary, surfaces: [TokenSurface?]) -> TokenVocabulary {
        let pieces = surfaces.compactMap { $0?.kind == .text ? $0?.bytes : nil }.filter { !$0.isEmpty }
        var seen = Set(pieces)
        var entries: [TokenVocabulary.Entry?] = surfaces.map { surface in
            surface.map { TokenVocabulary.Entry(kind: $0.kind == .special ? .special : .text, bytes: $0.bytes) }
        }
        var generator = SplitMix(state: 103_424)
        while entries.count < 103_424 {
            let parts = Int.random(in: 2...3, using: &generator)
            let bytes = (0..<parts).flatMap { _ in pieces.randomElement(using: &generator)! }
            guard bytes.count <= 24, String(validating: bytes, as: UTF8.self) != nil, seen.insert(bytes).inserted
            else { continue }
            entries.append(TokenVocabulary.Entry(kind: .text, bytes: bytes))
        }
        return TokenVocabulary(entries: entries)
    }

    struct Report: CustomStringConvertible {
        var label: String
        var compileMs: Double
        var steps: Int
        var coldMeanMicros: Double
        var warmMeanMicros: Double
        var warmP99Micros: Double
        var warmMaxMicros: Double
        var statistics: GrammarStatistics

        var description: String {
            String(format: "%@: compile %.1f ms; %d steps; cold mean %.1f µs/step; warm mean %.2f µs, p99 %.2f µs, "
                + "max %.1f µs; %d configurations; %d masks computed, %.0f µs each (%d trie edges each)",
                label, compileMs, steps, coldMeanMicros, warmMeanMicros, warmP99Micros, warmMaxMicros,
                statistics.configurations, statistics.maskMisses,
                statistics.maskTime / .microseconds(1) / Double(max(statistics.maskMisses, 1)),
                statistics.trieEdgesVisited / max(statistics.maskMisses, 1))
        }
    }

    /// Random generations under `grammar` (sampled tokens uniformly among the allowed ones), timed twice: cold (the
    /// automaton and masks are built on the way) and warm (the same walks again, everything cached).
    static func measure(_ label: String, _ grammar: Grammar, _ vocabulary: TokenVocabulary, walks: Int) throws
        -> Report
    {
        let clock = ContinuousClock()
        let start = clock.now
        let compiled = try CompiledGrammar(grammar, vocabulary: vocabulary)
        let compileMs = (clock.now - start) / .milliseconds(1)
        var generator = SplitMix(state: 5)
        var paths: [[Int]] = []
        var cold: [Duration] = []
        for _ in 0..<walks {
            var matcher = compiled.makeMatcher()
            var path: [Int] = []
            var mask = try matcher.allowedTokens()
            for _ in 0..<120 {
                var allowed: [Int] = []
                for (w, word) in mask.enumerated() where word != 0 {
                    for bit in 0..<32 where word & (1 << UInt32(bit)) != 0 { allowed.append(w * 32 + bit) }
                }
                guard let token = allowed.randomElement(using: &generator) else { break }
                path.append(token)
                let begin = clock.now
                _ = try matcher.accept(token)
                mask = try matcher.allowedTokens()
                cold.append(clock.now - begin)
                if !matcher.canContinue { break }
            }
            paths.append(path)
        }
        var warm: [Duration] = []
        for path in paths {
            var matcher = compiled.makeMatcher()
            for token in path {
                let begin = clock.now
                _ = try matcher.accept(token)
                _ = try matcher.allowedTokens()
                warm.append(clock.now - begin)
            }
        }
        func micros(_ d: Duration) -> Double { d / .microseconds(1) }
        let sorted = warm.sorted()
        return Report(
            label: label, compileMs: compileMs, steps: warm.count,
            coldMeanMicros: cold.map(micros).reduce(0, +) / Double(max(cold.count, 1)),
            warmMeanMicros: warm.map(micros).reduce(0, +) / Double(max(warm.count, 1)),
            warmP99Micros: micros(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]),
            warmMaxMicros: micros(sorted.last ?? .zero), statistics: compiled.statistics)
    }

    @Test func maskCost() throws {
        guard let demo = GrammarTestSupport.demoModel else { return }
        let tokenizer = try Tokenizer.load(directory: demo)
        let clock = ContinuousClock()
        var start = clock.now
        let vocabulary = TokenVocabulary(tokenizer: tokenizer, size: tokenizer.vocabularySize)
        let demoBuild = clock.now - start
        start = clock.now
        let large = Self.syntheticVocabulary(from: vocabulary, surfaces: tokenizer.tokenSurfaces())
        let largeBuild = clock.now - start
        let walks = Self.verbose ? 40 : 6
        let schema = try JSONSchemaCompiler.grammar(for: try SchemaJSON.parse(Self.schema))
        let object = try JSONSchemaCompiler.anyObjectGrammar()
        var vocabularies = [("12K demo", vocabulary), ("103K synthetic", large)]
        if let directory = ProcessInfo.processInfo.environment["ERNIE_GRAMMAR_BENCH_TOKENIZER"] {
            let other = try Tokenizer.load(directory: directory)
            let size = other.vocabularySize
            vocabularies.append(("\(size) from \(directory)", TokenVocabulary(tokenizer: other, size: size)))
        }
        var reports: [Report] = []
        for (name, vocab) in vocabularies {
            reports.append(try Self.measure("schema, \(name)", schema, vocab, walks: walks))
            reports.append(try Self.measure("json_object, \(name)", object, vocab, walks: walks))
        }
        if Self.verbose {
            print("vocabulary build: demo \(demoBuild), synthetic 103K \(largeBuild) (includes generating it)")
            for report in reports { print(report) }
        }
        for report in reports {
            #expect(report.steps > 50)
            // A decode step of the smallest model takes milliseconds; the cached path must be far below it.
            #expect(report.warmMeanMicros < 200, "\(report)")
        }
    }
}
