import ErnieGrammar
import ErnieTokenizer
import Synchronization

/// Compiles structured-output constraints against the served tokenizer's vocabulary and keeps the most recently
/// used ones (a compiled grammar also caches its automaton and token masks, so repeated schemas get faster). The
/// cache holds at most `cacheCapacity` grammars whose cached masks together stay within `maskBudgetBytes` (checked
/// when a request arrives; least recently used grammars go first, the one just asked for stays).
final class GrammarService: Sendable {
    static let cacheCapacity = 64
    static let defaultMaskBudgetBytes = 1 << 30

    let tokenizer: Tokenizer?
    /// Ids below this may be sampled (the engine's limit).
    let vocabularySize: Int
    let maskBudgetBytes: Int

    private struct State {
        var vocabulary: TokenVocabulary?
        var cache: [ConstraintRequest: CompiledGrammar] = [:]
        /// Least recently used first.
        var order: [ConstraintRequest] = []
    }

    private let state = Mutex(State())

    init(tokenizer: Tokenizer?, vocabularySize: Int, maskBudgetBytes: Int = GrammarService.defaultMaskBudgetBytes) {
        self.tokenizer = tokenizer
        self.vocabularySize = vocabularySize
        self.maskBudgetBytes = maskBudgetBytes
    }

    /// The grammars in the cache, least recently used first.
    var cachedRequests: [ConstraintRequest] { state.withLock { $0.order } }

    /// The constraint for `request`, compiled or from the cache. Errors are 400s naming the request field.
    func constraint(_ request: ConstraintRequest, param: String) throws(APIError) -> GrammarConstraint {
        guard let tokenizer else {
            throw .invalidParameter(
                param,
                "Structured output needs the tokenizer; this server was started with --skip-tokenizer-init.")
        }
        if let cached = state.withLock({ state -> CompiledGrammar? in
            guard let grammar = state.cache[request] else { return nil }
            state.order.removeAll { $0 == request }
            state.order.append(request)
            trim(&state)
            return grammar
        }) {
            return GrammarConstraint(grammar: cached)
        }
        let vocabulary = state.withLock { state -> TokenVocabulary in
            if let vocabulary = state.vocabulary { return vocabulary }
            let vocabulary = TokenVocabulary(tokenizer: tokenizer, size: vocabularySize)
            state.vocabulary = vocabulary
            return vocabulary
        }
        let compiled: CompiledGrammar
        do {
            let grammar = try Self.grammar(for: request, tokenizer: tokenizer)
            compiled = try CompiledGrammar(grammar, vocabulary: vocabulary)
        } catch {
            throw .invalidParameter(param, "Cannot use this \(request.output.kind) ('\(param)'): \(error).")
        }
        state.withLock { state in
            state.cache[request] = compiled
            state.order.append(request)
            while state.order.count > Self.cacheCapacity {
                state.cache[state.order.removeFirst()] = nil
            }
            trim(&state)
        }
        return GrammarConstraint(grammar: compiled)
    }

    /// Drops least recently used grammars while the cached masks exceed the budget (the newest always stays).
    /// Grammars still used by running requests live on until those end; they are just not reused.
    private func trim(_ state: inout State) {
        var total = state.order.reduce(0) { $0 + (state.cache[$1]?.cachedMaskBytes ?? 0) }
        while total > maskBudgetBytes && state.order.count > 1 {
            let oldest = state.order.removeFirst()
            total -= state.cache.removeValue(forKey: oldest)?.cachedMaskBytes ?? 0
        }
    }

    /// The grammar of a request's output, before it meets the vocabulary.
    static func grammar(for request: ConstraintRequest, tokenizer: Tokenizer) throws -> Grammar {
        let tags = ErnieTags(tokenizer: tokenizer)
        var grammar: Grammar
        switch request.output {
        case .jsonObject:
            grammar = try JSONSchemaCompiler.anyObjectGrammar()
        case .jsonSchema(let text):
            grammar = try JSONSchemaCompiler.grammar(for: try SchemaJSON.parse(text))
        case .regex(let pattern):
            grammar = Grammar(body: try RegexCompiler.compile(pattern))
        case .ebnf(let source):
            grammar = try EBNFCompiler.compile(source)
        case .toolCalls(let calls):
            grammar = try ToolCallGrammar.grammar(calls, tags: tags)
        }
        guard request.afterReasoning else { return grammar }
        // reasoning </think> then the answer: the constrained text, or inside <response>...</response> for answers.
        let isAnswer: Bool
        if case .toolCalls = request.output { isAnswer = false } else { isAnswer = true }
        return grammar.wrapped(name: "after_reasoning") { answer in
            let newlines = GrammarExpr.repetition(.literal("\n"), min: 0, max: 3)
            let body: GrammarExpr = isAnswer
                ? .choice([
                    .sequence([
                        tags.expr("<response>"), .literal("\n"), answer, .literal("\n"), tags.expr("</response>"),
                        .optional(.literal("\n")),
                    ]),
                    answer,
                ])
                : answer
            return .sequence([tags.reasoning, newlines, body])
        }
    }
}

extension StructuredOutput {
    /// How errors name the constraint.
    var kind: String {
        switch self {
        case .jsonObject, .jsonSchema: "JSON schema"
        case .regex: "regex"
        case .ebnf: "EBNF grammar"
        case .toolCalls: "tool choice"
        }
    }
}

/// ERNIE's format tags as grammar pieces: one token when the tokenizer has the tag as a special token (it cannot be
/// spelled with ordinary tokens then), else its text.
struct ErnieTags {
    let tokenizer: Tokenizer

    func expr(_ tag: String) -> GrammarExpr {
        if let id = tokenizer.tokenID(for: tag), tokenizer.specialTokenIDs.contains(id), id <= Int(Int32.max) {
            return .token(Int32(id))
        }
        return .literal(tag)
    }

    /// Free reasoning text up to and including `</think>`.
    var reasoning: GrammarExpr {
        let end = expr("</think>")
        if case .token = end { return .sequence([.zeroOrMore(.characters(.all)), end]) }
        return .textUntil(Array("</think>".utf8))
    }
}
