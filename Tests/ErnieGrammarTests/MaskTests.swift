import ErnieGrammar
import ErnieTestSupport
import ErnieTokenizer
import Foundation
import Testing

/// The token masks of the trie walk against brute force (every token's bytes fed to a copy of the matcher), along
/// random walks that pick allowed tokens; the text of the walk must be what the tokenizer decodes.
@Suite struct MaskTests {
    static let schema = #"""
        {"type": "object", "properties": {
            "name": {"type": "string", "maxLength": 10},
            "tags": {"type": "array", "items": {"enum": ["a", "b c", "中文"]}, "maxItems": 3},
            "n": {"type": "number"}, "ok": {"type": "boolean"}},
         "required": ["name", "n"]}
        """#

    static let folders: [String] = {
        var folders = ["sp-ernie", "sp-unigram-nfkc", "sp-unigram-suffix", "hf-ernie", "hf-bytelevel"].map {
            Fixtures.path("tokenizer/" + $0)
        }
        if let demo = GrammarTestSupport.demoModel { folders.insert(demo, at: 0) }
        return folders
    }()

    static func grammars() throws -> [(String, Grammar)] {
        [
            ("schema", try JSONSchemaCompiler.grammar(for: try SchemaJSON.parse(schema))),
            ("object", try JSONSchemaCompiler.anyObjectGrammar()),
            ("regex", Grammar(body: try RegexCompiler.compile(#"(\w+ ){1,3}[0-9]{2}\.(é|ü)"#))),
            ("ebnf", try EBNFCompiler.compile(#"root ::= "<" [a-z ]* ">" ("\n" root)?"#)),
        ]
    }

    @Test(arguments: folders)
    func maskEqualsBruteForce(_ folder: String) throws {
        let tokenizer = try Tokenizer.load(directory: folder)
        let vocabulary = TokenVocabulary(tokenizer: tokenizer, size: tokenizer.vocabularySize)
        let surfaces = tokenizer.tokenSurfaces()
        var generator = SplitMix(state: 42)
        for (name, grammar) in try Self.grammars() {
            let compiled = try CompiledGrammar(grammar, vocabulary: vocabulary)
            for _ in 0..<3 {
                var matcher = compiled.makeMatcher()
                var ids: [Int] = []
                var text: [UInt8] = []
                for _ in 0..<24 {
                    let mask = try matcher.allowedTokens()
                    var allowed: [Int] = []
                    for token in 0..<vocabulary.size {
                        var copy = matcher
                        let accepts = try copy.accept(token)
                        #expect(accepts == GrammarTestSupport.allows(mask, token), "\(name) token \(token)")
                        if accepts { allowed.append(token) }
                    }
                    guard let token = allowed.randomElement(using: &generator) else { break }
                    let entry = try #require(surfaces[token])
                    text += ids.isEmpty ? entry.runStartBytes : entry.bytes
                    ids.append(token)
                    #expect(try matcher.accept(token))
                }
                if let decoded = String(validating: text, as: UTF8.self) {
                    #expect(tokenizer.decode(ids) == decoded)
                }
            }
        }
    }

    @Test func walksEndOnlyInAcceptingStates() throws {
        let vocabulary = GrammarTestSupport.byteVocabulary
        let grammar = try CompiledGrammar(
            try JSONSchemaCompiler.grammar(for: try SchemaJSON.parse(Self.schema)), vocabulary: vocabulary)
        var generator = SplitMix(state: 3)
        var completed = 0
        for _ in 0..<100 {
            var matcher = grammar.makeMatcher()
            var text: [UInt8] = []
            for _ in 0..<400 {
                if matcher.isAccepting && (!matcher.canContinue || Int.random(in: 0..<4, using: &generator) == 0) {
                    break
                }
                let mask = try matcher.allowedTokens()
                let allowed = (0..<256).filter { GrammarTestSupport.allows(mask, $0) }
                let byte = try #require(allowed.randomElement(using: &generator))
                text.append(UInt8(byte))
                #expect(try matcher.accept(byte))
            }
            guard matcher.isAccepting else { continue }
            completed += 1
            // Whatever the walk produced is JSON with the required keys.
            let value = try SchemaJSON.parse(try #require(String(validating: text, as: UTF8.self)))
            #expect(value["name"] != nil && value["n"] != nil)
        }
        #expect(completed > 25)
    }
}
