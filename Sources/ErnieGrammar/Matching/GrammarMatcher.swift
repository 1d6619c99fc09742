/// The state of one output under a grammar: which tokens may come next, and the grammar's progress as tokens are
/// accepted. A value type; every operation goes through its `CompiledGrammar`, which caches what it computes.
public struct GrammarMatcher: Sendable {
    public let grammar: CompiledGrammar
    private(set) var configuration: Int32
    /// Whether the next token is the first of a decoding run (only tracked when the vocabulary spells such tokens
    /// differently).
    private(set) var atRunStart: Bool
    private let skipSpecialTokens: Bool

    init(grammar: CompiledGrammar, configuration: Int32, skipSpecialTokens: Bool) {
        self.grammar = grammar
        self.configuration = configuration
        self.skipSpecialTokens = skipSpecialTokens
        atRunStart = grammar.vocabulary.tracksRuns
    }

    /// Whether the output may end here.
    public var isAccepting: Bool { grammar.properties(configuration).accepting }

    /// Whether any token may follow (false: the grammar is complete and only the end of the output can come).
    public var canContinue: Bool { grammar.properties(configuration).canContinue }

    /// The tokens the grammar allows next, as a bitmask over `grammar.vocabulary.size` ids (bit `i % 32` of word
    /// `i / 32`). End-of-output tokens are not included: the caller adds them when `isAccepting`.
    public func allowedTokens() throws(GrammarError) -> [UInt32] {
        try grammar.mask(configuration: configuration, runStart: atRunStart)
    }

    /// Advances over `token`. Returns false (and leaves the matcher unchanged) when the grammar does not allow it.
    public mutating func accept(_ token: Int) throws(GrammarError) -> Bool {
        guard let entry = grammar.vocabulary.entry(token) else { return false }
        let next: Int32
        switch entry.kind {
        case .text:
            let bytes = atRunStart ? entry.runStartBytes : entry.bytes
            // A token that adds nothing (a lone `▁` at a run start) would leave the decoder's run open.
            guard !bytes.isEmpty else { return false }
            next = try grammar.advance(configuration, bytes: bytes)
        case .special:
            next = try grammar.advance(configuration, token: Int32(token))
        }
        guard next >= 0 else { return false }
        configuration = next
        if grammar.vocabulary.tracksRuns {
            if entry.kind == .special && skipSpecialTokens {
                // A skipped special token leaves the run as it was.
            } else {
                atRunStart = entry.endsRun
            }
        }
        return true
    }

    /// Advances over raw bytes (tests, and text forced into the output). Returns false when they are not allowed.
    public mutating func accept(bytes: [UInt8]) throws(GrammarError) -> Bool {
        let next = try grammar.advance(configuration, bytes: bytes)
        guard next >= 0 else { return false }
        configuration = next
        if !bytes.isEmpty { atRunStart = false }
        return true
    }
}
