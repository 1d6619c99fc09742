/// Bounding the nesting of values a template builds up across loop iterations (through namespace attributes), so
/// printing, comparing, hashing and releasing them can never exhaust the stack.
extension Interpreter {
    /// Throws when `value` is nested deeper than `limits.maxValueDepth` (an iterative walk; shared objects are
    /// visited once, so cycles terminate).
    func checkDepth(_ value: Value) throws {
        let limit = limits.maxValueDepth
        var stack: [(Value, Int)] = [(value, 0)]
        var seen = Set<ObjectIdentifier>()
        func push(_ children: some Sequence<Value>, _ depth: Int) {
            for child in children {
                switch child {
                case .none, .bool, .int, .float, .string, .markup, .undefined, .joiner: continue
                default: stack.append((child, depth + 1))
                }
            }
        }
        var visited = 0
        while let (current, depth) = stack.popLast() {
            // The walk is paid for in evaluation steps (one per 8 containers), so repeated checks of large values
            // stay within the step budget.
            visited += 1
            if visited & 7 == 0 { try tick() }
            guard depth <= limit else {
                throw TemplateError.limit("value nested deeper than \(limit) levels")
            }
            switch current {
            case .list(let items), .tuple(let items):
                push(items, depth)
            case .dict(let d):
                push(d.keys, depth)
                push(d.values, depth)
            case .namespace(let ns):
                if seen.insert(ObjectIdentifier(ns)).inserted { push(ns.attributes.values, depth) }
            case .loop(let loop):
                if seen.insert(ObjectIdentifier(loop)).inserted {
                    push(loop.items, depth)
                    push(loop.lastChanged ?? [], depth)
                }
            case .cycler(let c):
                if seen.insert(ObjectIdentifier(c)).inserted { push(c.items, depth) }
            case .iterator(let it):
                if seen.insert(ObjectIdentifier(it)).inserted { push(it.remaining, depth) }
            case .callable(.method(let m)):
                push([m.receiver], depth)
            case .callable(.macro(let m)):
                if seen.insert(ObjectIdentifier(m)).inserted, let closure = m.closure,
                    seen.insert(ObjectIdentifier(closure)).inserted
                {
                    push(closure.variables, depth)
                }
            default:
                continue
            }
        }
    }
}
