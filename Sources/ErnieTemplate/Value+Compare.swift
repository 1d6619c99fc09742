/// Python `==`, `<`, `<=`, `>`, `>=`.
enum OrderOp: String {
    case lt = "<", le = "<=", gt = ">", ge = ">="
}

extension Value {
    /// A number (bool, int or float) for arithmetic and comparisons.
    enum Number {
        case int(Int)
        case float(Double)
    }

    var number: Number? {
        switch self {
        case .bool(let b): .int(b ? 1 : 0)
        case .int(let i): .int(i)
        case .float(let d): .float(d)
        default: nil
        }
    }

    /// Python `==`.
    func pyEquals(_ other: Value) -> Bool { pyEquals(other, depth: 0) }

    private func pyEquals(_ other: Value, depth: Int) -> Bool {
        if depth > Value.maxReprDepth { return false }
        if let a = number, let b = other.number { return Value.numbersEqual(a, b) }
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(a), .string(b)), let (.string(a), .markup(b)), let (.markup(a), .string(b)),
            let (.markup(a), .markup(b)):
            return PyString.sameCodePoints(a, b)
        case let (.list(a), .list(b)), let (.tuple(a), .tuple(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.pyEquals($1, depth: depth + 1) }
        case let (.dict(a), .dict(b)):
            guard a.count == b.count else { return false }
            for (key, value) in zip(a.keys, a.values) {
                guard let otherValue = try? b.get(key), value.pyEquals(otherValue, depth: depth + 1) else {
                    return false
                }
            }
            return true
        case let (.namespace(a), .namespace(b)): return a === b
        case let (.loop(a), .loop(b)): return a === b
        case let (.iterator(a), .iterator(b)): return a === b
        case let (.cycler(a), .cycler(b)): return a === b
        case let (.joiner(a), .joiner(b)): return a === b
        case let (.callable(a), .callable(b)):
            switch (a, b) {
            case let (.macro(x), .macro(y)): return x === y
            case let (.builtin(x), .builtin(y)): return x == y
            case let (.method(x), .method(y)):
                return x.name == y.name && x.receiver.pyEquals(y.receiver, depth: depth + 1)
            default: return false
            }
        default:
            return false
        }
    }

    static func numbersEqual(_ a: Number, _ b: Number) -> Bool {
        switch (a, b) {
        case let (.int(x), .int(y)): return x == y
        case let (.float(x), .float(y)): return x == y
        case let (.int(x), .float(y)), let (.float(y), .int(x)):
            if let exact = Int(exactly: y) { return exact == x }
            return false
        }
    }

    static func compareNumbers(_ op: OrderOp, _ a: Number, _ b: Number) -> Bool {
        switch (a, b) {
        case let (.int(x), .int(y)): return apply(op, x, y)
        case let (.float(x), .float(y)): return apply(op, x, y)
        case let (.int(x), .float(y)):
            if let exact = Int(exactly: y) { return apply(op, x, exact) }
            return apply(op, Double(x), y)
        case let (.float(x), .int(y)):
            if let exact = Int(exactly: x) { return apply(op, exact, y) }
            return apply(op, x, Double(y))
        }
    }

    private static func apply<T: Comparable>(_ op: OrderOp, _ x: T, _ y: T) -> Bool {
        switch op {
        case .lt: x < y
        case .le: x <= y
        case .gt: x > y
        case .ge: x >= y
        }
    }

    /// Python rich ordering comparison; throws `TypeError` for unorderable operands.
    static func pyCompare(_ op: OrderOp, _ a: Value, _ b: Value) throws -> Bool {
        if let x = a.number, let y = b.number { return compareNumbers(op, x, y) }
        switch (a, b) {
        case let (.string(x), .string(y)), let (.string(x), .markup(y)), let (.markup(x), .string(y)),
            let (.markup(x), .markup(y)):
            let less = x.utf8.lexicographicallyPrecedes(y.utf8)
            let equal = !less && x.utf8.elementsEqual(y.utf8)
            switch op {
            case .lt: return less
            case .le: return less || equal
            case .gt: return !less && !equal
            case .ge: return !less
            }
        case let (.list(x), .list(y)), let (.tuple(x), .tuple(y)):
            for (p, q) in zip(x, y) where !p.pyEquals(q) {
                return try pyCompare(op, p, q)
            }
            return apply(op, x.count, y.count)
        default:
            if case .undefined(let u) = a { throw u.error }
            if case .undefined(let u) = b { throw u.error }
            throw TemplateError.runtime(
                "'\(op.rawValue)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
        }
    }

    /// The `<` used by `sort`, `min`, `max`, `dictsort`.
    static func pyLess(_ a: Value, _ b: Value) throws -> Bool { try pyCompare(.lt, a, b) }
}

/// A stable merge sort with a throwing comparator (Python's `sorted` is stable and may raise).
func stableSorted<T>(_ items: [T], by less: (T, T) throws -> Bool) rethrows -> [T] {
    if items.count < 2 { return items }
    var a = items
    var b = items
    var width = 1
    let n = items.count
    while width < n {
        var start = 0
        while start < n {
            let mid = min(start + width, n)
            let end = min(start + 2 * width, n)
            var i = start
            var j = mid
            var k = start
            while i < mid && j < end {
                if try less(a[j], a[i]) {
                    b[k] = a[j]
                    j += 1
                } else {
                    b[k] = a[i]
                    i += 1
                }
                k += 1
            }
            while i < mid {
                b[k] = a[i]
                i += 1
                k += 1
            }
            while j < end {
                b[k] = a[j]
                j += 1
                k += 1
            }
            start += 2 * width
        }
        swap(&a, &b)
        width *= 2
    }
    return a
}
