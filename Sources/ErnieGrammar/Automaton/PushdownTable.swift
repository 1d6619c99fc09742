/// The pushdown automaton of a grammar, determinised lazily: a configuration is the set of stacks the nondeterministic
/// automaton can be in after some input, and each (configuration, byte class) transition is computed once and stored.
///
/// Stacks are hash-consed linked lists of nodes `(state, parent)`: a configuration's member nodes have a consuming
/// state on top (one with byte or token edges); their parents hold the states to return to. For a grammar without
/// recursion the configurations are finitely many and this is a lazily built DFA; with recursion they grow with the
/// nesting depth actually generated.
struct PushdownTable {
    static let unknown: Int32 = -2
    static let dead: Int32 = -1

    /// Most member stacks of one configuration (an ambiguous grammar can multiply them).
    static let maximumStacks = 4096
    /// Most configurations per grammar (each costs one row of `transitions`).
    static let maximumConfigurations = 400_000

    let nfa: NFA
    let classes: ByteClasses

    private struct EntryInfo {
        var consuming: [Int32]
        var calls: [NFA.Call]
        var reachesFinal: Bool
    }

    private struct ConfigurationKey: Hashable {
        var nodes: [Int32]
        var accepting: Bool
    }

    private var entryInfo: [EntryInfo?]
    private var nodeState: [Int32] = []
    private var nodeParent: [Int32] = []
    private var nodeIndex: [UInt64: Int32] = [:]
    private(set) var configurationNodes: [[Int32]] = []
    private(set) var configurationAccepting: [Bool] = []
    private var configurationIndex: [ConfigurationKey: Int32] = [:]
    /// Row `c` (`classes.count` entries): the configuration after a byte of each class, or `unknown` / `dead`.
    private(set) var transitions: [Int32] = []
    private var tokenTransitions: [Int32: [Int32: Int32]] = [:]
    /// The configuration before any input.
    private(set) var initial: Int32 = Self.dead

    init(nfa: NFA) throws(GrammarError) {
        self.nfa = nfa
        classes = ByteClasses(nfa.byteEdges.lazy.flatMap { $0.map(\.set) })
        entryInfo = [EntryInfo?](repeating: nil, count: nfa.stateCount)
        initial = try closure([(nfa.ruleStart[Int(nfa.root)], -1)])
    }

    var configurationCount: Int { configurationNodes.count }

    func isAccepting(_ configuration: Int32) -> Bool { configurationAccepting[Int(configuration)] }

    /// Whether any byte or token can follow (false: only the end of the output can).
    func canContinue(_ configuration: Int32) -> Bool { !configurationNodes[Int(configuration)].isEmpty }

    /// The configuration after one byte, or `dead`.
    @inline(__always)
    mutating func next(_ configuration: Int32, byte: UInt8) throws(GrammarError) -> Int32 {
        let cls = Int(classes.classOf[Int(byte)])
        let slot = Int(configuration) * classes.count + cls
        let cached = transitions[slot]
        if cached != Self.unknown { return cached }
        let computed = try step(configuration, cls: cls)
        transitions[slot] = computed
        return computed
    }

    /// The configuration after the token edge for `token`, or `dead`.
    mutating func next(_ configuration: Int32, token: Int32) throws(GrammarError) -> Int32 {
        if let cached = tokenTransitions[configuration]?[token] { return cached }
        var seeds: [(Int32, Int32)] = []
        for node in configurationNodes[Int(configuration)] {
            for edge in nfa.tokenEdges[Int(nodeState[Int(node)])] where edge.token == token {
                seeds.append((edge.target, nodeParent[Int(node)]))
            }
        }
        let result = seeds.isEmpty ? Self.dead : try closure(seeds)
        tokenTransitions[configuration, default: [:]][token] = result
        return result
    }

    /// Tokens with an edge from some member of the configuration.
    func tokenEdges(_ configuration: Int32) -> [Int32] {
        var tokens: [Int32] = []
        for node in configurationNodes[Int(configuration)] {
            for edge in nfa.tokenEdges[Int(nodeState[Int(node)])] { tokens.append(edge.token) }
        }
        return tokens
    }

    private mutating func step(_ configuration: Int32, cls: Int) throws(GrammarError) -> Int32 {
        let byte = classes.representative[cls]
        var seeds: [(Int32, Int32)] = []
        for node in configurationNodes[Int(configuration)] {
            for edge in nfa.byteEdges[Int(nodeState[Int(node)])] where edge.set.contains(byte) {
                seeds.append((edge.target, nodeParent[Int(node)]))
            }
        }
        return seeds.isEmpty ? Self.dead : try closure(seeds)
    }

    // MARK: Closure

    private mutating func closure(_ seeds: [(state: Int32, parent: Int32)]) throws(GrammarError) -> Int32 {
        var work = seeds
        var visited = Set<UInt64>()
        var members: [Int32] = []
        var accepting = false
        while let (state, parent) = work.popLast() {
            let key = UInt64(UInt32(bitPattern: state)) << 32 | UInt64(UInt32(bitPattern: parent))
            guard visited.insert(key).inserted else { continue }
            if visited.count > Self.maximumStacks * 8 {
                throw .tooLarge("the grammar is too ambiguous (a closure visits more than \(visited.count) items)")
            }
            let info = entry(state)
            for consuming in info.consuming { members.append(node(consuming, parent)) }
            for call in info.calls {
                work.append((nfa.ruleStart[Int(call.rule)], node(call.ret, parent)))
            }
            if info.reachesFinal {
                if parent < 0 {
                    accepting = true
                } else {
                    work.append((nodeState[Int(parent)], nodeParent[Int(parent)]))
                }
            }
        }
        if members.isEmpty && !accepting { return Self.dead }
        members.sort()
        var unique: [Int32] = []
        unique.reserveCapacity(members.count)
        for member in members where unique.last != member { unique.append(member) }
        guard unique.count <= Self.maximumStacks else {
            throw .tooLarge("the grammar is too ambiguous (more than \(Self.maximumStacks) parse stacks at once)")
        }
        let key = ConfigurationKey(nodes: unique, accepting: accepting)
        if let existing = configurationIndex[key] { return existing }
        guard configurationNodes.count < Self.maximumConfigurations else {
            throw .tooLarge("the automaton exceeded \(Self.maximumConfigurations) configurations")
        }
        let id = Int32(configurationNodes.count)
        configurationNodes.append(unique)
        configurationAccepting.append(accepting)
        configurationIndex[key] = id
        transitions.append(contentsOf: repeatElement(Self.unknown, count: classes.count))
        return id
    }

    private mutating func node(_ state: Int32, _ parent: Int32) -> Int32 {
        let key = UInt64(UInt32(bitPattern: state)) << 32 | UInt64(UInt32(bitPattern: parent))
        if let existing = nodeIndex[key] { return existing }
        let id = Int32(nodeState.count)
        nodeState.append(state)
        nodeParent.append(parent)
        nodeIndex[key] = id
        return id
    }

    /// What is reachable from `state` by epsilon edges inside its rule.
    private mutating func entry(_ state: Int32) -> EntryInfo {
        if let info = entryInfo[Int(state)] { return info }
        var seen = Set<Int32>()
        var work = [state]
        var info = EntryInfo(consuming: [], calls: [], reachesFinal: false)
        while let s = work.popLast() {
            guard seen.insert(s).inserted else { continue }
            if nfa.consumes(s) { info.consuming.append(s) }
            info.calls += nfa.calls[Int(s)]
            if nfa.isFinal[Int(s)] { info.reachesFinal = true }
            work += nfa.epsilon[Int(s)]
        }
        info.consuming.sort()
        entryInfo[Int(state)] = info
        return info
    }
}
