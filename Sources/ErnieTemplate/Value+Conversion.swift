extension Value {
    /// The runtime value of a context variable (objects become dicts with Python key semantics); throws when the
    /// value is nested deeper than `maxDepth`.
    init(_ value: JinjaValue, maxDepth: Int, depth: Int = 0) throws {
        guard depth <= maxDepth else {
            throw TemplateError.limit("context value nested deeper than \(maxDepth) levels")
        }
        switch value {
        case .undefined: self = .undefined(Undefined(hint: "undefined value"))
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .float(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(try items.map { try Value($0, maxDepth: maxDepth, depth: depth + 1) })
        case .object(let members):
            self = .dict(
                PyDict(stringPairs: try members.map { ($0.0, try Value($0.1, maxDepth: maxDepth, depth: depth + 1)) }))
        }
    }
}
