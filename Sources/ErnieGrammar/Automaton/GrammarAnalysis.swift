/// Static checks and derived facts of an `NFA`: which rules can match the empty string, and that no rule can reach
/// itself without consuming input (left recursion makes a pushdown automaton's closure infinite).
enum GrammarAnalysis {
    /// Throws `invalidGrammar` naming a left-recursive rule.
    static func checkLeftRecursion(_ nfa: NFA, ruleNames: [String]) throws(GrammarError) {
        let nullable = nullableRules(nfa)
        let ruleCount = nfa.ruleStart.count
        // leftCalls[r]: rules r can call before consuming any byte.
        var leftCalls = [[Int32]](repeating: [], count: ruleCount)
        for rule in 0..<ruleCount {
            var seen = Set<Int32>()
            var callees = Set<Int32>()
            var work = [nfa.ruleStart[rule]]
            while let state = work.popLast() {
                guard seen.insert(state).inserted else { continue }
                work += nfa.epsilon[Int(state)]
                for call in nfa.calls[Int(state)] {
                    callees.insert(call.rule)
                    if nullable[Int(call.rule)] { work.append(call.ret) }
                }
            }
            leftCalls[rule] = callees.sorted()
        }
        // A cycle in the left-call graph is left recursion.
        var color = [UInt8](repeating: 0, count: ruleCount)  // 0 new, 1 on the path, 2 done
        for start in 0..<ruleCount where color[start] == 0 {
            var stack: [(rule: Int, next: Int)] = [(start, 0)]
            color[start] = 1
            while var top = stack.popLast() {
                if top.next < leftCalls[top.rule].count {
                    let callee = Int(leftCalls[top.rule][top.next])
                    top.next += 1
                    stack.append(top)
                    if color[callee] == 1 {
                        throw .invalidGrammar(
                            "rule '\(ruleNames[callee])' is left-recursive (it can reach itself without consuming "
                                + "input); rewrite it with repetition")
                    }
                    if color[callee] == 0 {
                        color[callee] = 1
                        stack.append((callee, 0))
                    }
                } else {
                    color[top.rule] = 2
                }
            }
        }
    }

    /// Per rule: whether it can match the empty string.
    static func nullableRules(_ nfa: NFA) -> [Bool] {
        let ruleCount = nfa.ruleStart.count
        var nullable = [Bool](repeating: false, count: ruleCount)
        var changed = true
        while changed {
            changed = false
            for rule in 0..<ruleCount where !nullable[rule] {
                var seen = Set<Int32>()
                var work = [nfa.ruleStart[rule]]
                var reached = false
                while let state = work.popLast(), !reached {
                    guard seen.insert(state).inserted else { continue }
                    if state == nfa.ruleFinal[rule] { reached = true }
                    work += nfa.epsilon[Int(state)]
                    for call in nfa.calls[Int(state)] where nullable[Int(call.rule)] { work.append(call.ret) }
                }
                if reached {
                    nullable[rule] = true
                    changed = true
                }
            }
        }
        return nullable
    }
}

/// The coarsest partition of byte values that every byte set of an automaton respects: bytes of one class take the
/// same edges everywhere, so transitions are computed and stored per class.
struct ByteClasses: Sendable {
    /// Class of each byte value.
    let classOf: [UInt8]
    /// One member of each class.
    let representative: [UInt8]

    var count: Int { representative.count }

    init(_ sets: some Sequence<ByteSet>) {
        var classOf = [Int](repeating: 0, count: 256)
        var classCount = 1
        for set in Set(sets) {
            var renumber: [Int: Int] = [:]  // (old class * 2 + member) -> new class
            var next = 0
            for byte in 0..<256 {
                let key = classOf[byte] * 2 + (set.contains(UInt8(byte)) ? 1 : 0)
                if let existing = renumber[key] {
                    classOf[byte] = existing
                } else {
                    renumber[key] = next
                    classOf[byte] = next
                    next += 1
                }
            }
            classCount = next
        }
        var representative = [UInt8](repeating: 0, count: classCount)
        var seen = [Bool](repeating: false, count: classCount)
        for byte in 0..<256 where !seen[classOf[byte]] {
            seen[classOf[byte]] = true
            representative[classOf[byte]] = UInt8(byte)
        }
        self.classOf = classOf.map { UInt8($0) }
        self.representative = representative
    }
}
