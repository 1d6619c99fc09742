import Synchronization

/// A grammar compiled against one vocabulary: the pushdown automaton, built lazily, and the token masks of the
/// configurations reached so far. Shared by every request that uses the same grammar; thread-safe.
public final class CompiledGrammar: Sendable {
    /// Total bytes of cached masks above which the mask cache is emptied.
    public static let maskCacheLimitBytes = 256 << 20

    public let vocabulary: TokenVocabulary
    /// Rule count and NFA size, for logs and tests.
    public let ruleCount: Int
    public let stateCount: Int

    struct Runtime {
        var table: PushdownTable
        /// Key: configuration << 1 | run start.
        var masks: [Int64: [UInt32]] = [:]
        var maskBytes = 0
        var statistics = GrammarStatistics()
    }

    let runtime: Mutex<Runtime>
    let initial: Int32

    /// Compiles `grammar` for `vocabulary`; token terminals naming text tokens become their bytes.
    public init(_ grammar: Grammar, vocabulary: TokenVocabulary) throws(GrammarError) {
        var grammar = grammar
        for index in grammar.rules.indices {
            grammar.rules[index].body = try Self.resolveTokens(grammar.rules[index].body, vocabulary: vocabulary)
        }
        let nfa = try NFABuilder.build(grammar)
        try GrammarAnalysis.checkLeftRecursion(nfa, ruleNames: grammar.rules.map(\.name))
        let table = try PushdownTable(nfa: nfa)
        guard table.initial >= 0 else { throw .invalidGrammar("the grammar matches nothing") }
        self.vocabulary = vocabulary
        ruleCount = grammar.rules.count
        stateCount = nfa.stateCount
        initial = table.initial
        runtime = Mutex(Runtime(table: table))
        // The first step of every request starts here: compute its masks up front.
        _ = try mask(configuration: initial, runStart: false)
        if vocabulary.tracksRuns { _ = try mask(configuration: initial, runStart: true) }
    }

    private static func resolveTokens(_ expr: GrammarExpr, vocabulary: TokenVocabulary) throws(GrammarError)
        -> GrammarExpr
    {
        switch expr {
        case .token(let id):
            guard let entry = vocabulary.entry(Int(id)) else {
                throw .invalidGrammar("token \(id) is not in the vocabulary")
            }
            return entry.kind == .text ? .literal(entry.bytes) : expr
        case .sequence(let parts):
            var resolved: [GrammarExpr] = []
            for part in parts { resolved.append(try resolveTokens(part, vocabulary: vocabulary)) }
            return .sequence(resolved)
        case .choice(let parts):
            var resolved: [GrammarExpr] = []
            for part in parts { resolved.append(try resolveTokens(part, vocabulary: vocabulary)) }
            return .choice(resolved)
        case .repetition(let body, let min, let max):
            return .repetition(try resolveTokens(body, vocabulary: vocabulary), min: min, max: max)
        case .empty, .bytes, .rule, .textUntil:
            return expr
        }
    }

    /// A matcher at the start of the output. `skipSpecialTokens` must be the request's detokenizer setting (a
    /// special token that is skipped does not end a SentencePiece decoding run).
    public func makeMatcher(skipSpecialTokens: Bool = true) -> GrammarMatcher {
        GrammarMatcher(grammar: self, configuration: initial, skipSpecialTokens: skipSpecialTokens)
    }

    /// Counters of the work done so far.
    public var statistics: GrammarStatistics {
        runtime.withLock { runtime in
            var statistics = runtime.statistics
            statistics.configurations = runtime.table.configurationCount
            statistics.cachedMasks = runtime.masks.count
            return statistics
        }
    }

    /// Bytes held by the cached masks.
    public var cachedMaskBytes: Int { runtime.withLock { $0.maskBytes } }

    // MARK: Used by GrammarMatcher

    func mask(configuration: Int32, runStart: Bool) throws(GrammarError) -> [UInt32] {
        let key = Int64(configuration) << 1 | (runStart ? 1 : 0)
        let vocabulary = self.vocabulary
        return try runtime.withLock { (runtime: inout Runtime) throws(GrammarError) -> [UInt32] in
            if let cached = runtime.masks[key] {
                runtime.statistics.maskHits += 1
                return cached
            }
            let trie = runStart ? (vocabulary.runStartTrie ?? vocabulary.trie) : vocabulary.trie
            var visited = 0
            let clock = ContinuousClock()
            let start = clock.now
            let words = try runtime.table.mask(
                from: configuration, trie: trie, wordCount: vocabulary.maskWordCount, visited: &visited)
            runtime.statistics.maskTime += clock.now - start
            runtime.statistics.maskMisses += 1
            runtime.statistics.trieEdgesVisited += visited
            let bytes = words.count * 4
            if runtime.maskBytes + bytes > Self.maskCacheLimitBytes {
                runtime.masks.removeAll()
                runtime.maskBytes = 0
            }
            runtime.masks[key] = words
            runtime.maskBytes += bytes
            return words
        }
    }

    func advance(_ configuration: Int32, bytes: [UInt8]) throws(GrammarError) -> Int32 {
        try runtime.withLock { (runtime: inout Runtime) throws(GrammarError) -> Int32 in
            var current = configuration
            for byte in bytes {
                current = try runtime.table.next(current, byte: byte)
                if current < 0 { return PushdownTable.dead }
            }
            return current
        }
    }

    func advance(_ configuration: Int32, token: Int32) throws(GrammarError) -> Int32 {
        try runtime.withLock { (runtime: inout Runtime) throws(GrammarError) -> Int32 in
            try runtime.table.next(configuration, token: token)
        }
    }

    func properties(_ configuration: Int32) -> (accepting: Bool, canContinue: Bool) {
        runtime.withLock { ($0.table.isAccepting(configuration), $0.table.canContinue(configuration)) }
    }
}

/// Work counters of a `CompiledGrammar`.
public struct GrammarStatistics: Sendable, Equatable {
    /// Configurations of the lazily built automaton.
    public var configurations = 0
    /// Masks currently cached.
    public var cachedMasks = 0
    /// Mask requests answered from the cache / computed by a trie walk.
    public var maskHits = 0
    public var maskMisses = 0
    /// Trie edges examined by all walks.
    public var trieEdgesVisited = 0
    /// Time spent in trie walks (including the automaton transitions they computed).
    public var maskTime = Duration.zero
}
