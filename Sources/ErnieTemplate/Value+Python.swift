/// `str()`, `repr()` and truthiness with Python's rules.
extension Value {
    /// Python truthiness.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .float(let d): d != 0
        case .string(let s), .markup(let s): !s.isEmpty
        case .list(let items), .tuple(let items): !items.isEmpty
        case .dict(let d): !d.isEmpty
        case .loop(let loop): loop.length > 0
        case .namespace, .callable, .iterator, .cycler, .joiner: true
        }
    }

    /// Python `str(value)` (what `{{ value }}` prints).
    var pyStr: String {
        switch self {
        case .undefined: ""
        case .string(let s), .markup(let s): s
        default: pyRepr
        }
    }

    /// Python `repr(value)`.
    var pyRepr: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        case .float(let d): PyNumber.repr(d)
        case .string(let s): PyText.repr(s)
        case .markup(let s): "Markup(\(PyText.repr(s)))"
        case .list(let items): "[" + items.map(\.pyRepr).joined(separator: ", ") + "]"
        case .tuple(let items):
            items.count == 1 ? "(\(items[0].pyRepr),)" : "(" + items.map(\.pyRepr).joined(separator: ", ") + ")"
        case .dict(let d): Value.dictRepr(d)
        case .namespace(let ns): "<Namespace \(Value.dictRepr(ns.attributes))>"
        case .loop(let loop): "<LoopContext \(loop.index0 + 1)/\(loop.length)>"
        case .callable(let callable):
            switch callable {
            case .macro(let m): "<Macro \(PyText.repr(m.definition.name))>"
            case .builtin(let b): "<built-in function \(b.rawValue)>"
            case .method(let m): "<built-in method \(m.name) of \(m.receiver.typeName) object>"
            }
        case .iterator(let it): "<\(it.typeName) object>"
        case .cycler: "<jinja2.utils.Cycler object>"
        case .joiner: "<jinja2.utils.Joiner object>"
        }
    }

    static func dictRepr(_ d: PyDict) -> String {
        "{" + zip(d.keys, d.values).map { "\($0.pyRepr): \($1.pyRepr)" }.joined(separator: ", ") + "}"
    }

    /// `"dict object"`-style names jinja2 uses in undefined-attribute messages.
    var objectTypeDescription: String {
        switch self {
        case .none: "None"
        default: "\(typeName) object"
        }
    }
}
