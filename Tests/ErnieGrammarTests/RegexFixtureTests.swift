import ErnieGrammar
import Testing

/// Regexes against Python's `re.fullmatch` (Tests/Fixtures/grammar/regex_cases.json, made by
/// scripts/fixtures/grammar/make_grammar_fixtures.py): every string the grammar accepts matches under Python's
/// Unicode semantics, and every string that matches both with Unicode and with ASCII classes is accepted.
@Suite struct RegexFixtureTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var pattern: String
        /// Text, Python's Unicode match, Python's `re.ASCII` match.
        var strings: [(text: String, unicode: Bool, ascii: Bool)]
        var testDescription: String { pattern }
    }

    static let cases: [Case] = {
        guard let list = try? GrammarTestSupport.loadJSON("grammar/regex_cases.json") as? [[String: Any]] else {
            return []
        }
        return list.map { entry in
            let strings = (entry["strings"] as? [[Any]] ?? []).map {
                (text: $0[0] as? String ?? "", unicode: $0[1] as? Bool ?? false, ascii: $0[2] as? Bool ?? false)
            }
            return Case(pattern: entry["pattern"] as? String ?? "", strings: strings)
        }
    }()

    @Test func fixturesAreLoaded() {
        #expect(Self.cases.count >= 25)
    }

    @Test(arguments: cases)
    func agreesWithPythonRe(_ testCase: Case) throws {
        let expr = try RegexCompiler.compile(testCase.pattern)
        let grammar = try CompiledGrammar(Grammar(body: expr), vocabulary: GrammarTestSupport.byteVocabulary)
        for string in testCase.strings {
            let accepted = try GrammarTestSupport.matches(grammar, string.text)
            if accepted {
                #expect(string.unicode, "pattern \(testCase.pattern) accepted \(string.text.debugDescription)")
            } else {
                #expect(!(string.unicode && string.ascii),
                        "pattern \(testCase.pattern) rejected \(string.text.debugDescription)")
            }
        }
    }

    @Test(arguments: [
        (#"(a)\1"#, "backreferences"), ("(?=a)b", "lookaround"), ("(?i)a", "inline flags"), (#"a\b"#, "word"),
        ("a**", "multiple repeat"), ("*a", "nothing to repeat"), ("(a", "unterminated"), ("a)", "unbalanced"),
        ("[a", "unterminated"), ("a{3,2}", "min repeat"), ("a$b", "end of the pattern"), (#"\q"#, "bad escape"),
        ("a^", "start"), ("a{1,20000}", "above"),
    ])
    func rejectsUnsupportedSyntax(_ pattern: String, _ message: String) {
        #expect {
            _ = try RegexCompiler.compile(pattern)
        } throws: { error in
            guard case .invalidRegex(_, let text)? = error as? GrammarError else { return false }
            return text.contains(message)
        }
    }

    @Test func unicodeNegatedClassesAvoidUnicodeDigitsAndLetters() throws {
        let grammar = try CompiledGrammar(
            Grammar(body: try RegexCompiler.compile(#"\D\W"#)), vocabulary: GrammarTestSupport.byteVocabulary)
        // Python's Unicode \d matches ARABIC-INDIC DIGIT THREE and \w matches CJK ideographs.
        #expect(try !GrammarTestSupport.matches(grammar, "\u{663}!"))
        #expect(try !GrammarTestSupport.matches(grammar, "a中"))
        #expect(try GrammarTestSupport.matches(grammar, "a!"))
    }
}
