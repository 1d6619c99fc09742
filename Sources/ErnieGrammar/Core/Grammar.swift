/// A context-free grammar over bytes: named rules whose bodies are regular expressions that may reference rules.
///
/// Regexes, EBNF grammars and JSON Schemas all compile to this form; `CompiledGrammar` turns it into a pushdown
/// automaton over the tokenizer's vocabulary.
public struct Grammar: Sendable {
    public struct Rule: Sendable {
        public var name: String
        public var body: GrammarExpr
    }

    public internal(set) var rules: [Rule]
    /// Index of the start rule.
    public internal(set) var root: Int

    /// A grammar whose only rule is `body`.
    public init(body: GrammarExpr, name: String = "root") {
        rules = [Rule(name: name, body: body)]
        root = 0
    }

    init(rules: [Rule], root: Int) {
        self.rules = rules
        self.root = root
    }
}

/// The body of a rule.
public indirect enum GrammarExpr: Hashable, Sendable {
    /// Matches the empty string.
    case empty
    /// Matches one byte from the set.
    case bytes(ByteSet)
    /// Matches one vocabulary token by id (for special tokens, which have no byte spelling the grammar may use).
    case token(Int32)
    case sequence([GrammarExpr])
    case choice([GrammarExpr])
    /// `min` to `max` repetitions (`max == nil`: unbounded).
    case repetition(GrammarExpr, min: Int, max: Int?)
    /// A reference to rule number `n` of the grammar.
    case rule(Int)
    /// Any UTF-8 text that does not contain `literal`, followed by `literal` (the first occurrence ends it).
    case textUntil([UInt8])

    /// Matches exactly `text`.
    public static func literal(_ text: String) -> GrammarExpr {
        literal(Array(text.utf8))
    }

    public static func literal(_ bytes: [UInt8]) -> GrammarExpr {
        switch bytes.count {
        case 0: return .empty
        case 1: return .bytes(ByteSet(bytes[0]))
        default: return .sequence(bytes.map { .bytes(ByteSet($0)) })
        }
    }

    /// Matches one character (the UTF-8 encoding of one member of `set`).
    public static func characters(_ set: CodePointSet) -> GrammarExpr {
        let sequences = UTF8Sequences.sequences(for: set)
        // Merge alternatives that differ only in their first byte range into ... (kept simple: one per sequence).
        let alternatives = sequences.map { sequence -> GrammarExpr in
            sequence.count == 1
                ? .bytes(ByteSet(sequence[0])) : .sequence(sequence.map { .bytes(ByteSet($0)) })
        }
        return .choice(alternatives)
    }

    public static func optional(_ expr: GrammarExpr) -> GrammarExpr {
        .repetition(expr, min: 0, max: 1)
    }

    public static func zeroOrMore(_ expr: GrammarExpr) -> GrammarExpr {
        .repetition(expr, min: 0, max: nil)
    }

    public static func oneOrMore(_ expr: GrammarExpr) -> GrammarExpr {
        .repetition(expr, min: 1, max: nil)
    }
}

/// Builds a `Grammar` rule by rule; rules may be declared first and defined later (for recursion).
public struct GrammarBuilder: Sendable {
    private var rules: [Grammar.Rule] = []
    private var defined: [Bool] = []
    private var names: [String: Int] = [:]

    public init() {}

    /// A new rule with a unique name derived from `name`; its body is set later with `define`.
    public mutating func declare(_ name: String) -> Int {
        var unique = name
        var suffix = 1
        while names[unique] != nil {
            suffix += 1
            unique = "\(name)_\(suffix)"
        }
        names[unique] = rules.count
        rules.append(Grammar.Rule(name: unique, body: .empty))
        defined.append(false)
        return rules.count - 1
    }

    public mutating func define(_ rule: Int, _ body: GrammarExpr) {
        rules[rule].body = body
        defined[rule] = true
    }

    /// Declares and defines a rule at once.
    public mutating func add(_ name: String, _ body: GrammarExpr) -> Int {
        let rule = declare(name)
        define(rule, body)
        return rule
    }

    public func name(of rule: Int) -> String { rules[rule].name }

    /// The grammar starting at `root`. Every declared rule must have been defined.
    public func build(root: Int) throws(GrammarError) -> Grammar {
        if let missing = defined.firstIndex(of: false) {
            throw .invalidGrammar("rule '\(rules[missing].name)' is used but never defined")
        }
        return Grammar(rules: rules, root: root)
    }
}

extension Grammar {
    /// A grammar whose start rule is `body(.rule(oldRoot))` (to put text before or after this grammar's language).
    public func wrapped(name: String = "wrapped", _ body: (GrammarExpr) -> GrammarExpr) -> Grammar {
        var rules = self.rules
        rules.append(Rule(name: name, body: body(.rule(root))))
        return Grammar(rules: rules, root: rules.count - 1)
    }

    /// A builder holding this grammar's rules, to add more that refer to them.
    public var builder: GrammarBuilder { GrammarBuilder(rules: rules) }
}

extension GrammarBuilder {
    init(rules: [Grammar.Rule]) {
        self.init()
        for rule in rules { _ = add(rule.name, rule.body) }
    }
}
