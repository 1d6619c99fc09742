/// Attribute and item access as jinja2's sandbox does it: `obj.name` prefers Python attributes (methods) and falls
/// back to `obj["name"]`; `obj[key]` prefers items and falls back to attributes; failures give `Undefined`.
extension Interpreter {
    static let strMethods: Set<String> = [
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format",
        "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
        "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans",
        "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit",
        "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill",
    ]
    static let markupMethods: Set<String> = ["escape", "striptags", "unescape"]
    static let dictMethods: Set<String> = ["copy", "fromkeys", "get", "items", "keys", "values"]
    static let dictUnsafe: Set<String> = ["clear", "pop", "popitem", "setdefault", "update"]
    static let listMethods: Set<String> = ["copy", "count", "index"]
    static let listUnsafe: Set<String> = ["append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"]
    static let tupleMethods: Set<String> = ["count", "index"]
    static let intMethods: Set<String> = [
        "as_integer_ratio", "bit_count", "bit_length", "conjugate", "to_bytes", "from_bytes",
    ]
    static let floatMethods: Set<String> = ["as_integer_ratio", "conjugate", "hex", "fromhex", "is_integer"]

    /// The Python attribute `name` of `value`, or nil when it has none (sandbox-unsafe attributes give a
    /// security-flagged undefined).
    func attribute(_ value: Value, _ name: String) throws -> Value? {
        if name.hasPrefix("_") { return nil }
        func method() -> Value { .callable(.method(BoundMethod(receiver: value, name: name))) }
        func unsafe() -> Value {
            .undefined(Undefined(owner: value.objectTypeDescription, attribute: name, security: true))
        }
        switch value {
        case .undefined(let u):
            throw u.error
        case .string:
            return Interpreter.strMethods.contains(name) ? method() : nil
        case .markup:
            return Interpreter.strMethods.contains(name) || Interpreter.markupMethods.contains(name) ? method() : nil
        case .dict:
            if Interpreter.dictMethods.contains(name) { return method() }
            return Interpreter.dictUnsafe.contains(name) ? unsafe() : nil
        case .list:
            if Interpreter.listMethods.contains(name) { return method() }
            return Interpreter.listUnsafe.contains(name) ? unsafe() : nil
        case .tuple(let items):
            if Interpreter.tupleMethods.contains(name) { return method() }
            // groupby() results are named tuples (grouper, list).
            if items.count == 2, name == "grouper" { return items[0] }
            if items.count == 2, name == "list" { return items[1] }
            return nil
        case .bool, .int:
            switch name {
            case "real", "numerator": return .int(value.intValue ?? 0)
            case "imag": return .int(0)
            case "denominator": return .int(1)
            default: return Interpreter.intMethods.contains(name) ? method() : nil
            }
        case .float(let d):
            switch name {
            case "real": return .float(d)
            case "imag": return .float(0)
            default: return Interpreter.floatMethods.contains(name) ? method() : nil
            }
        case .namespace(let ns):
            return ns.attributes.get(string: name)
        case .loop(let loop):
            return loopAttribute(loop, name, method)
        case .cycler(let c):
            switch name {
            case "current": return c.items[c.position]
            case "items": return .tuple(c.items)
            case "pos": return .int(c.position)
            case "next", "reset": return method()
            default: return nil
            }
        case .joiner(let j):
            switch name {
            case "sep": return .string(j.separator)
            case "used": return .bool(j.used)
            default: return nil
            }
        case .callable(.macro(let m)):
            let d = m.definition
            switch name {
            case "name": return .string(d.name)
            case "arguments": return .tuple(d.parameters.map { .string($0) })
            case "catch_kwargs": return .bool(d.usesKwargs)
            case "catch_varargs": return .bool(d.usesVarargs)
            case "caller": return .bool(d.usesCaller)
            default: return nil
            }
        case .none, .callable, .iterator:
            return nil
        }
    }

    private func loopAttribute(_ loop: LoopContext, _ name: String, _ method: () -> Value) -> Value? {
        switch name {
        case "index": return .int(loop.index0 + 1)
        case "index0": return .int(loop.index0)
        case "revindex": return .int(loop.length - loop.index0)
        case "revindex0": return .int(loop.length - loop.index0 - 1)
        case "first": return .bool(loop.index0 == 0)
        case "last": return .bool(loop.isLast)
        case "length": return .int(loop.length)
        case "depth": return .int(loop.depth0 + 1)
        case "depth0": return .int(loop.depth0)
        case "previtem":
            return loop.index0 > 0
                ? loop.items[loop.index0 - 1] : .undefined(Undefined(hint: "there is no previous item"))
        case "nextitem":
            return loop.isLast ? .undefined(Undefined(hint: "there is no next item")) : loop.items[loop.index0 + 1]
        case "cycle", "changed": return method()
        default: return nil
        }
    }

    /// `obj.name`.
    func getattr(_ value: Value, _ name: String) throws -> Value {
        if let found = try attribute(value, name) { return found }
        if let item = try lookupItem(value, .string(name)) { return item }
        return missing(value, name)
    }

    /// `obj[key]`.
    func getitem(_ value: Value, _ key: Value) throws -> Value {
        if case .undefined(let u) = value { throw u.error }
        if let item = try lookupItem(value, key) { return item }
        if let name = key.stringValue, let found = try attribute(value, name) { return found }
        if let name = key.stringValue { return missing(value, name) }
        return .undefined(Undefined(owner: value.objectTypeDescription, elementRepr: key.pyRepr))
    }

    private func missing(_ value: Value, _ name: String) -> Value {
        .undefined(Undefined(owner: value.objectTypeDescription, attribute: name))
    }

    /// Python `obj[key]`, or nil where Python raises `TypeError` / `LookupError`.
    private func lookupItem(_ value: Value, _ key: Value) throws -> Value? {
        switch value {
        case .dict(let d):
            return try? d.get(key)
        case .list(let items), .tuple(let items):
            guard let i = key.intValue else { return nil }
            let index = i < 0 ? i + items.count : i
            return items.indices.contains(index) ? items[index] : nil
        case .string(let s), .markup(let s):
            guard let i = key.intValue else { return nil }
            let chars = Array(s.unicodeScalars)
            let index = i < 0 ? i + chars.count : i
            return chars.indices.contains(index) ? .string(String(chars[index])) : nil
        default:
            return nil
        }
    }

    /// The TypeError a slice of a non-sequence (or with non-integer bounds) raises.
    struct SliceTypeError: Error {
        let message: String
    }

    /// `obj[start:stop:step]`. jinja2 compiles slices to plain Python subscripts (bypassing the sandbox's
    /// `getitem`), so failures raise instead of giving Undefined.
    func slice(_ value: Value, _ start: Value?, _ stop: Value?, _ step: Value?) throws -> Value {
        if case .undefined(let u) = value { throw u.error }
        func index(_ v: Value?) -> Int?? {
            guard let v, !({ if case .none = v { true } else { false } }()) else { return .some(nil) }
            guard let i = v.intValue else { return nil }
            return .some(i)
        }
        switch value {
        case .list, .tuple, .string, .markup: break
        case .dict: throw SliceTypeError(message: "unhashable type: 'slice'")
        default: throw SliceTypeError(message: "'\(value.typeName)' object is not subscriptable")
        }
        guard let first = index(start), let last = index(stop), let stride = index(step) else {
            throw SliceTypeError(message: "slice indices must be integers or None or have an __index__ method")
        }
        let by = stride ?? 1
        guard by != 0 else { throw TemplateError.runtime("slice step cannot be zero") }
        func pick<T>(_ items: [T]) -> [T] {
            let n = items.count
            var lo: Int
            var hi: Int
            if by > 0 {
                lo = first.map { $0 < 0 ? max(0, $0 + n) : min($0, n) } ?? 0
                hi = last.map { $0 < 0 ? max(0, $0 + n) : min($0, n) } ?? n
            } else {
                lo = first.map { $0 < 0 ? max(-1, $0 + n) : min($0, n - 1) } ?? n - 1
                hi = last.map { $0 < 0 ? max(-1, $0 + n) : min($0, n - 1) } ?? -1
            }
            var out: [T] = []
            var i = lo
            while by > 0 ? i < hi : i > hi {
                out.append(items[i])
                i += by
            }
            return out
        }
        switch value {
        case .list(let items): return .list(pick(items))
        case .tuple(let items): return .tuple(pick(items))
        case .string(let s): return .string(PyText.string(pick(Array(s.unicodeScalars))))
        case .markup(let s): return .markup(PyText.string(pick(Array(s.unicodeScalars))))
        default: throw TemplateError.runtime("'\(value.typeName)' object is not subscriptable")
        }
    }
}
