import ErnieGrammar
import ErnieModel
import ErnieRuntime

/// A compiled grammar as the engine's `GenerationConstraint`.
struct GrammarConstraint: GenerationConstraint {
    let grammar: CompiledGrammar

    func makeMatcher(skipSpecialTokens: Bool) -> any ConstraintMatcher {
        GrammarConstraintMatcher(matcher: grammar.makeMatcher(skipSpecialTokens: skipSpecialTokens))
    }
}

struct GrammarConstraintMatcher: ConstraintMatcher {
    var matcher: GrammarMatcher

    func allowedTokens() throws -> TokenBitmask {
        TokenBitmask(words: try matcher.allowedTokens())
    }

    var isAccepting: Bool { matcher.isAccepting }
    var canContinue: Bool { matcher.canContinue }

    mutating func accept(_ token: Int) throws -> Bool {
        try matcher.accept(token)
    }
}
