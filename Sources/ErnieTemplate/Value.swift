/// A runtime value with Python / jinja2 semantics. Lists, tuples and dicts are value types (the sandbox forbids
/// mutating them); namespaces, loops, cyclers, joiners and iterators are reference types as in Python.
enum Value {
    case undefined(Undefined)
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    /// A `markupsafe.Markup` string (from `safe` / `escape`): `+` escapes the plain-string operand.
    case markup(String)
    case list([Value])
    case tuple([Value])
    case dict(PyDict)
    case namespace(Namespace)
    case loop(LoopContext)
    case callable(Callable)
    case iterator(PyIterator)
    case cycler(Cycler)
    case joiner(Joiner)
}

/// jinja2's default `Undefined`: prints as "", iterates as empty, is falsy; most other operations raise.
struct Undefined {
    var hint: String?
    /// The missing variable / attribute / element, as text.
    var name: String?
    /// `repr()` of the missing element key, when the lookup used a non-string key.
    var elementRepr: String?
    /// "dict object", "list object"... when the value came from a failed lookup on an object.
    var ownerType: String?
    /// The sandbox's "unsafe attribute" undefined: any use raises a security error.
    var security = false

    init(name: String) { self.name = name }

    init(hint: String) { self.hint = hint }

    init(owner: String, attribute: String, security: Bool = false) {
        self.ownerType = owner
        self.name = attribute
        self.security = security
    }

    init(owner: String, elementRepr: String) {
        self.ownerType = owner
        self.elementRepr = elementRepr
    }

    /// The message jinja2 uses when the undefined value is used.
    var message: String {
        if let hint { return hint }
        if security, let ownerType, let name {
            let type = ownerType.hasSuffix(" object") ? String(ownerType.dropLast(7)) : ownerType
            return "access to attribute '\(name)' of '\(type)' object is unsafe."
        }
        guard let ownerType else { return "'\(name ?? "")' is undefined" }
        if let elementRepr { return "\(ownerType) has no element \(elementRepr)" }
        return "'\(ownerType)' has no attribute '\(name ?? "")'"
    }

    var error: TemplateError { .runtime(message) }
}

extension Value {
    /// Python's type name, used in error messages.
    var typeName: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .markup: "Markup"
        case .list: "list"
        case .tuple: "tuple"
        case .dict: "dict"
        case .namespace: "Namespace"
        case .loop: "LoopContext"
        case .callable(let callable):
            switch callable {
            case .macro: "Macro"
            case .builtin: "builtin_function_or_method"
            case .method: "builtin_function_or_method"
            }
        case .iterator(let iterator): iterator.typeName
        case .cycler: "Cycler"
        case .joiner: "Joiner"
        }
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// The text when this is a `str` (plain or Markup).
    var stringValue: String? {
        switch self {
        case .string(let s), .markup(let s): s
        default: nil
        }
    }

    /// The integer when this is an `int` (bools count, as in Python).
    var intValue: Int? {
        switch self {
        case .int(let i): i
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }
}
