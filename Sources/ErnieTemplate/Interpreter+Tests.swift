/// jinja2's tests (`x is defined`, `x is string`, `x is divisibleby 3`...).
enum Tests {
    static let known: Set<String> = [
        "odd", "even", "divisibleby", "defined", "undefined", "filter", "test", "none", "boolean", "false", "true",
        "integer", "float", "lower", "upper", "string", "mapping", "number", "sequence", "iterable", "callable",
        "sameas", "escaped", "in", "==", "eq", "equalto", "!=", "ne", ">", "gt", "greaterthan", "ge", ">=", "<", "lt",
        "lessthan", "<=", "le",
    ]
}

extension Interpreter {
    func applyTest(_ name: String, _ value: Value, _ args: Arguments) throws -> Bool {
        func one() throws -> Value {
            let bound = try args.bind(name, ["other"], required: 1)
            return bound[0] ?? .none
        }
        switch name {
        case "odd", "even":
            try args.none(name)
            let remainder = try Value.binary(.mod, value, .int(2), sizeLimit: limits.maxOutputBytes)
            return remainder.pyEquals(.int(name == "odd" ? 1 : 0))
        case "divisibleby":
            let remainder = try Value.binary(.mod, value, try one(), sizeLimit: limits.maxOutputBytes)
            return remainder.pyEquals(.int(0))
        case "defined": try args.none(name); return !value.isUndefined
        case "undefined": try args.none(name); return value.isUndefined
        case "filter": try args.none(name); return value.stringValue.map { Filters.known.contains($0) } ?? false
        case "test": try args.none(name); return value.stringValue.map { Tests.known.contains($0) } ?? false
        case "none":
            try args.none(name)
            if case .none = value { return true }
            return false
        case "boolean":
            try args.none(name)
            if case .bool = value { return true }
            return false
        case "true", "false":
            try args.none(name)
            if case .bool(let b) = value { return b == (name == "true") }
            return false
        case "integer":
            try args.none(name)
            if case .int = value { return true }
            return false
        case "float":
            try args.none(name)
            if case .float = value { return true }
            return false
        case "number":
            try args.none(name)
            return value.number != nil
        case "string":
            try args.none(name)
            return value.stringValue != nil
        case "lower": try args.none(name); return PyText.isLower(value.pyStr)
        case "upper": try args.none(name); return PyText.isUpper(value.pyStr)
        case "mapping":
            try args.none(name)
            if case .dict = value { return true }
            return false
        case "sequence":
            try args.none(name)
            switch value {
            case .string, .markup, .list, .tuple, .dict, .undefined: return true
            default: return false
            }
        case "iterable":
            try args.none(name)
            switch value {
            case .string, .markup, .list, .tuple, .dict, .undefined, .iterator, .loop: return true
            default: return false
            }
        case "callable":
            try args.none(name)
            switch value {
            case .callable, .loop, .joiner, .undefined: return true
            default: return false
            }
        case "sameas":
            let other = try one()
            switch (value, other) {
            case (.none, .none): return true
            case let (.bool(a), .bool(b)): return a == b
            case let (.int(a), .int(b)): return a == b && (-5...256).contains(a)
            case (.namespace, _), (.loop, _), (.cycler, _), (.joiner, _), (.iterator, _), (.callable, _):
                return value.pyEquals(other)
            default: return false
            }
        case "escaped":
            try args.none(name)
            if case .markup = value { return true }
            return false
        case "in":
            return try contains(try one(), value)
        case "==", "eq", "equalto": return value.pyEquals(try one())
        case "!=", "ne": return !value.pyEquals(try one())
        case ">", "gt", "greaterthan": return try Value.pyCompare(.gt, value, try one())
        case ">=", "ge": return try Value.pyCompare(.ge, value, try one())
        case "<", "lt", "lessthan": return try Value.pyCompare(.lt, value, try one())
        case "<=", "le": return try Value.pyCompare(.le, value, try one())
        default:
            throw TemplateError.runtime("No test named '\(name)'.")
        }
    }
}
