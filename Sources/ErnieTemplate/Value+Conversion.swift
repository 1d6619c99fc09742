extension Value {
    /// The runtime value of a context variable (objects become dicts with Python key semantics).
    init(_ value: JinjaValue) {
        switch value {
        case .undefined: self = .undefined(Undefined(hint: "undefined value"))
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .float(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(items.map(Value.init))
        case .object(let members): self = .dict(PyDict(stringPairs: members.map { ($0.0, Value($0.1)) }))
        }
    }
}
