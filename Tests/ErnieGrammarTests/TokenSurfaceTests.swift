import ErnieGrammar
import ErnieTestSupport
import ErnieTokenizer
import Foundation
import Testing

/// `Tokenizer.tokenSurfaces()` against the tokenizer's own decoder (itself tested against sentencepiece and
/// tokenizers): decoding random token sequences gives the concatenation of their surfaces.
@Suite struct TokenSurfaceTests {
    static let folders: [String] = {
        let root = Fixtures.path("tokenizer")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        var folders = names.sorted().map { root + "/" + $0 }.filter {
            FileManager.default.fileExists(atPath: $0 + "/tokenizer.model")
                || FileManager.default.fileExists(atPath: $0 + "/tokenizer.json")
        }
        if let demo = GrammarTestSupport.demoModel { folders.append(demo) }
        return folders
    }()

    @Test func fixturesAreLoaded() {
        #expect(Self.folders.count >= 10)
    }

    @Test(arguments: folders)
    func decodingEqualsConcatenatedSurfaces(_ folder: String) throws {
        let tokenizer = try Tokenizer.load(directory: folder)
        let surfaces = tokenizer.tokenSurfaces()
        let textIDs = surfaces.indices.filter { surfaces[$0] != nil && surfaces[$0]?.kind != .special }
        #expect(textIDs.count > tokenizer.vocabularySize / 2 || textIDs.count > 500, "\(folder): few text tokens")
        var generator = SplitMix(state: UInt64(folder.utf8.count))
        var checked = 0
        for _ in 0..<3000 {
            let count = Int.random(in: 1...6, using: &generator)
            let ids = (0..<count).map { _ in textIDs.randomElement(using: &generator)! }
            var expected: [UInt8] = []
            var runStart = true
            var usable = true
            for id in ids {
                let surface = surfaces[id]!
                // A piece that is only `▁` vanishes at a run start and leaves the run open (never generated).
                if runStart && surface.runStartBytes.isEmpty { usable = false }
                expected += runStart ? surface.runStartBytes : surface.bytes
                runStart = surface.endsRun
            }
            guard usable else { continue }
            // Only sequences that spell valid UTF-8 decode without replacement characters.
            guard let text = String(validating: expected, as: UTF8.self) else { continue }
            checked += 1
            #expect(tokenizer.decode(ids) == text, "\(folder): \(ids)")
        }
        #expect(checked > 1000)
    }
}
