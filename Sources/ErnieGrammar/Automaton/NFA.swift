/// A recursive transition network: one Thompson NFA fragment per rule, with byte edges, token edges, epsilon edges
/// and call edges (enter rule `r`, continue at `ret` when it returns). A rule returns from its `final` state.
struct NFA: Sendable {
    struct ByteEdge: Sendable {
        var set: ByteSet
        var target: Int32
    }

    struct TokenEdge: Sendable {
        var token: Int32
        var target: Int32
    }

    struct Call: Sendable, Hashable {
        var rule: Int32
        var ret: Int32
    }

    /// Per state.
    var byteEdges: [[ByteEdge]] = []
    var tokenEdges: [[TokenEdge]] = []
    var epsilon: [[Int32]] = []
    var calls: [[Call]] = []
    /// Per rule.
    var ruleStart: [Int32] = []
    var ruleFinal: [Int32] = []
    /// Per state: whether it is the final state of its rule.
    var isFinal: [Bool] = []
    var root: Int32 = 0

    var stateCount: Int { byteEdges.count }

    func consumes(_ state: Int32) -> Bool {
        !byteEdges[Int(state)].isEmpty || !tokenEdges[Int(state)].isEmpty
    }
}

/// Builds the `NFA` of a `Grammar` (Thompson construction, one fragment per rule).
struct NFABuilder {
    static let maximumStates = 2_000_000

    private var nfa = NFA()

    static func build(_ grammar: Grammar) throws(GrammarError) -> NFA {
        var builder = NFABuilder()
        for _ in grammar.rules {
            builder.nfa.ruleStart.append(try builder.newState())
            builder.nfa.ruleFinal.append(-1)
        }
        for (index, rule) in grammar.rules.enumerated() {
            let end = try builder.emit(rule.body, from: builder.nfa.ruleStart[index], rules: grammar.rules.count)
            let final = try builder.newState()
            builder.nfa.epsilon[Int(end)].append(final)
            builder.nfa.ruleFinal[index] = final
            builder.nfa.isFinal[Int(final)] = true
        }
        builder.nfa.root = Int32(grammar.root)
        return builder.nfa
    }

    private mutating func newState() throws(GrammarError) -> Int32 {
        guard nfa.stateCount < Self.maximumStates else {
            throw .tooLarge("the automaton needs more than \(Self.maximumStates) states")
        }
        nfa.byteEdges.append([])
        nfa.tokenEdges.append([])
        nfa.epsilon.append([])
        nfa.calls.append([])
        nfa.isFinal.append(false)
        return Int32(nfa.stateCount - 1)
    }

    /// Adds the fragment of `expr` starting at `from`; returns its end state.
    private mutating func emit(_ expr: GrammarExpr, from: Int32, rules: Int) throws(GrammarError) -> Int32 {
        switch expr {
        case .empty:
            return from
        case .bytes(let set):
            let target = try newState()
            if !set.isEmpty { nfa.byteEdges[Int(from)].append(NFA.ByteEdge(set: set, target: target)) }
            return target
        case .token(let id):
            let target = try newState()
            nfa.tokenEdges[Int(from)].append(NFA.TokenEdge(token: id, target: target))
            return target
        case .sequence(let parts):
            var current = from
            for part in parts { current = try emit(part, from: current, rules: rules) }
            return current
        case .choice(let alternatives):
            let end = try newState()
            for alternative in alternatives {
                let start = try newState()
                nfa.epsilon[Int(from)].append(start)
                let last = try emit(alternative, from: start, rules: rules)
                nfa.epsilon[Int(last)].append(end)
            }
            return end
        case .repetition(let body, let min, let max):
            guard min >= 0, max.map({ $0 >= min }) ?? true else {
                throw .invalidGrammar("repetition bounds {\(min),\(max.map(String.init) ?? "")} are invalid")
            }
            var current = from
            for _ in 0..<min {
                let start = try newState()
                nfa.epsilon[Int(current)].append(start)
                current = try emit(body, from: start, rules: rules)
            }
            if let max {
                guard max > min else { return current }
                let exit = try newState()
                for _ in min..<max {
                    nfa.epsilon[Int(current)].append(exit)
                    let start = try newState()
                    nfa.epsilon[Int(current)].append(start)
                    current = try emit(body, from: start, rules: rules)
                }
                nfa.epsilon[Int(current)].append(exit)
                return exit
            }
            let loop = try newState()
            nfa.epsilon[Int(current)].append(loop)
            let start = try newState()
            nfa.epsilon[Int(loop)].append(start)
            let last = try emit(body, from: start, rules: rules)
            nfa.epsilon[Int(last)].append(loop)
            let exit = try newState()
            nfa.epsilon[Int(loop)].append(exit)
            return exit
        case .rule(let index):
            guard index >= 0 && index < rules else { throw .invalidGrammar("reference to undefined rule #\(index)") }
            let target = try newState()
            nfa.calls[Int(from)].append(NFA.Call(rule: Int32(index), ret: target))
            return target
        case .textUntil(let literal):
            return try emitTextUntil(literal, from: from)
        }
    }

    /// Any UTF-8 text without `literal`, then `literal`: a KMP automaton over ASCII bytes in which any non-ASCII
    /// character resets the match (the literal must be ASCII).
    private mutating func emitTextUntil(_ literal: [UInt8], from: Int32) throws(GrammarError) -> Int32 {
        guard !literal.isEmpty, literal.allSatisfy({ $0 < 0x80 }) else {
            throw .invalidGrammar("text-until needs a non-empty ASCII terminator")
        }
        let count = literal.count
        var states: [Int32] = []
        for _ in 0..<count { states.append(try newState()) }
        let end = try newState()
        nfa.epsilon[Int(from)].append(states[0])
        // Longest proper border of literal[0..<k] extended by b that is a prefix of the literal.
        func next(_ k: Int, _ b: UInt8) -> Int {
            var candidate = Array(literal[0..<k]) + [b]
            while !candidate.isEmpty {
                if candidate.count <= count && Array(literal[0..<candidate.count]) == candidate {
                    return candidate.count
                }
                candidate.removeFirst()
            }
            return 0
        }
        let nonASCII = UTF8Sequences.sequences(for: CodePointSet(0x80...CodePointSet.maximum))
        for k in 0..<count {
            var byTarget: [Int: ByteSet] = [:]
            for b in UInt8(0)...UInt8(0x7F) {
                let j = next(k, b)
                byTarget[j, default: ByteSet()].insert(b)
            }
            for (j, set) in byTarget.sorted(by: { $0.key < $1.key }) {
                let target = j == count ? end : states[j]
                nfa.byteEdges[Int(states[k])].append(NFA.ByteEdge(set: set, target: target))
            }
            for sequence in nonASCII {
                var current = states[k]
                for (i, range) in sequence.enumerated() {
                    let target = i == sequence.count - 1 ? states[0] : try newState()
                    nfa.byteEdges[Int(current)].append(NFA.ByteEdge(set: ByteSet(range), target: target))
                    current = target
                }
            }
        }
        return end
    }
}
