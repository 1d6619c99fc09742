import ErnieGrammar
import Testing

@Suite struct EBNFTests {
    private func compile(_ source: String) throws -> CompiledGrammar {
        try CompiledGrammar(try EBNFCompiler.compile(source), vocabulary: GrammarTestSupport.byteVocabulary)
    }

    /// EBNF spellings of fixture regexes: they must accept exactly what Python's `re.fullmatch(..., re.ASCII)` accepts.
    @Test(arguments: [
        (#"\d{3}-\d{4}"#, #"root ::= d d d "-" d{4}  d ::= [0-9]"#),
        ("(cat|dog)s?", #"root ::= ("cat" | "dog") "s"?"#),
        ("(ab|a)*b", "root ::= item* \"b\"\nitem ::= \"ab\" | \"a\""),
        (#"-?\d+(\.\d+)?"#, #"root ::= "-"? [0-9]+ ("." [0-9]+)?"#),
        ("[^aeiou\\s]{1,4}", #"root ::= [^aeiou\t\n\v\f\r ]{1,4}"#),
        ("(a(b(c)?)?)?d", "root ::= abc? \"d\"  # nested optionals\nabc ::= \"a\" bc?\nbc ::= \"b\" \"c\"?"),
        ("[\\u4e00-\\u9fff]{1,3}", #"root ::= [\u4e00-\u9fff] [\u4e00-\u9fff]? [\u4e00-\u9fff]?"#),
    ])
    func equivalentToFixtureRegex(_ pattern: String, _ source: String) throws {
        let grammar = try compile(source)
        let testCase = try #require(RegexFixtureTests.cases.first { $0.pattern == pattern })
        for string in testCase.strings {
            #expect(try GrammarTestSupport.matches(grammar, string.text) == string.ascii,
                    "\(pattern) on \(string.text.debugDescription)")
        }
    }

    /// A recursive grammar (balanced brackets) against a direct check.
    @Test func recursionMatchesACounter() throws {
        let grammar = try compile(#"root ::= item*  item ::= "(" root ")" | "[" root "]""#)
        var generator = SplitMix(state: 7)
        for _ in 0..<400 {
            let length = Int.random(in: 0...10, using: &generator)
            let text = String((0..<length).map { _ in "()[]".randomElement(using: &generator)! })
            #expect(try GrammarTestSupport.matches(grammar, text) == Self.balanced(text), "\(text)")
        }
    }

    private static func balanced(_ text: String) -> Bool {
        var stack: [Character] = []
        for c in text {
            switch c {
            case "(", "[": stack.append(c)
            case ")": if stack.popLast() != "(" { return false }
            default: if stack.popLast() != "[" { return false }
            }
        }
        return stack.isEmpty
    }

    @Test func literalsEscapesAndAnyCharacter() throws {
        let grammar = try compile(#"root ::= "a\"b\\c\n" 'x' . [\x41-\x43]"#)
        #expect(try GrammarTestSupport.matches(grammar, "a\"b\\c\nx中B"))
        #expect(try !GrammarTestSupport.matches(grammar, "a\"b\\c\nx中D"))
    }

    @Test(arguments: [
        ("a ::= \"x\"", "no 'root' rule"),
        ("root ::= undefined-rule", "'undefined-rule' is used but never defined"),
        ("root ::= \"x\"\nroot ::= \"y\"", "defined twice"),
        ("root ::= \"unterminated", "unterminated string"),
        ("root ::= [a-", "unterminated character class"),
        ("root ::= (\"a\"", "expected ')'"),
        ("root ::= \"a\"{3,1}", "max below min"),
        ("root ::= \"\\q\"", "unknown escape"),
        ("root ::= @", "unexpected character"),
    ])
    func syntaxErrorsAreReported(_ source: String, _ message: String) {
        #expect {
            _ = try EBNFCompiler.compile(source)
        } throws: { error in
            guard case .invalidEBNF(_, _, let text)? = error as? GrammarError else { return false }
            return text.contains(message)
        }
    }

    @Test func errorPositionIsLineAndColumn() {
        #expect(throws: GrammarError.invalidEBNF(line: 2, column: 11, message: "unexpected character '@'")) {
            _ = try EBNFCompiler.compile("root ::= a\na ::= \"x\" @")
        }
    }

    @Test func leftRecursionIsRejected() {
        #expect {
            _ = try compile("root ::= expr\nexpr ::= expr \"+\" term | term\nterm ::= [0-9]")
        } throws: { error in
            guard case .invalidGrammar(let text)? = error as? GrammarError else { return false }
            return text.contains("'expr' is left-recursive")
        }
        // Indirect, through a nullable prefix.
        #expect(throws: GrammarError.self) {
            _ = try compile("root ::= a\na ::= b? c \"x\"\nb ::= \"y\"\nc ::= a?")
        }
    }

    @Test func emptyLanguageIsRejected() {
        #expect(throws: GrammarError.self) { _ = try compile("root ::= [^\\x00-\\U0010FFFF]") }
    }
}
