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
        var out = ""
        var active: [ObjectIdentifier] = []
        appendRepr(to: &out, depth: 0, active: &active)
        return out
    }

    /// Deeper than this, containers print as `...` instead of recursing further (Python would raise
    /// RecursionError; values this deep are already refused by `RenderLimits.maxValueDepth`).
    static let maxReprDepth = 5000

    private func appendRepr(to out: inout String, depth: Int, active: inout [ObjectIdentifier]) {
        func sequence(_ items: [Value], _ open: String, _ close: String) {
            out += open
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                item.appendRepr(to: &out, depth: depth + 1, active: &active)
            }
            out += close
        }
        func dict(_ d: PyDict) {
            out += "{"
            for (i, (key, value)) in zip(d.keys, d.values).enumerated() {
                if i > 0 { out += ", " }
                key.appendRepr(to: &out, depth: depth + 1, active: &active)
                out += ": "
                value.appendRepr(to: &out, depth: depth + 1, active: &active)
            }
            out += "}"
        }
        if depth > Value.maxReprDepth {
            out += "..."
            return
        }
        switch self {
        case .undefined: out += "Undefined"
        case .none: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .float(let d): out += PyNumber.repr(d)
        case .string(let s): out += PyText.repr(s)
        case .markup(let s): out += "Markup(\(PyText.repr(s)))"
        case .list(let items): sequence(items, "[", "]")
        case .tuple(let items):
            if items.count == 1 {
                out += "("
                items[0].appendRepr(to: &out, depth: depth + 1, active: &active)
                out += ",)"
            } else {
                sequence(items, "(", ")")
            }
        case .dict(let d): dict(d)
        case .namespace(let ns):
            let id = ObjectIdentifier(ns)
            if active.contains(id) {
                out += "<Namespace {...}>"
                return
            }
            active.append(id)
            out += "<Namespace "
            dict(ns.attributes)
            out += ">"
            active.removeLast()
        case .loop(let loop): out += "<LoopContext \(loop.index0 + 1)/\(loop.length)>"
        case .callable(let callable):
            switch callable {
            case .macro(let m): out += "<Macro \(PyText.repr(m.definition.name))>"
            case .builtin(let b): out += "<built-in function \(b.rawValue)>"
            case .method(let m): out += "<built-in method \(m.name) of \(m.receiver.typeName) object>"
            }
        case .iterator(let it): out += "<\(it.typeName) object>"
        case .cycler: out += "<jinja2.utils.Cycler object>"
        case .joiner: out += "<jinja2.utils.Joiner object>"
        }
    }

    /// `"dict object"`-style names jinja2 uses in undefined-attribute messages.
    var objectTypeDescription: String {
        switch self {
        case .none: "None"
        default: "\(typeName) object"
        }
    }
}
