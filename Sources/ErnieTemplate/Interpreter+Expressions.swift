extension Interpreter {
    func eval(_ expr: Expr, _ scope: Scope) throws -> Value {
        try tick()
        try checkStack()
        currentLine = expr.line
        switch expr.kind {
        case .literal(let literal):
            return try Value(literal)
        case .name(let name):
            if constantMode { throw NotConstant() }
            return scope.lookup(name) ?? .undefined(Undefined(name: name))
        case .list(let items):
            return .list(try items.map { try eval($0, scope) })
        case .tuple(let items):
            return .tuple(try items.map { try eval($0, scope) })
        case .dict(let pairs):
            var dict = PyDict()
            for (k, v) in pairs {
                let key = try eval(k, scope)
                try dict.set(key, try eval(v, scope))
            }
            return .dict(dict)
        case .getattr(let object, let name):
            return try getattr(try eval(object, scope), name)
        case .getitem(let object, let argument):
            let target = try eval(object, scope)
            if case .slice(let start, let stop, let step) = argument.kind {
                let bounds = try [start, stop, step].map { try $0.map { try eval($0, scope) } }
                do {
                    return try slice(target, bounds[0], bounds[1], bounds[2])
                } catch let error as SliceTypeError {
                    // Compile-time folding goes through the sandbox's getitem, which turns this TypeError into
                    // Undefined; at run time jinja2 emits a plain Python subscript, which raises.
                    if constantMode { return .undefined(Undefined(hint: error.message)) }
                    throw TemplateError.runtime(error.message)
                }
            }
            return try getitem(target, try eval(argument, scope))
        case .slice:
            throw TemplateError.runtime("slices are only supported as subscripts")
        case .negate(let operand):
            return try Value.negate(try eval(operand, scope))
        case .plus(let operand):
            return try Value.negate(try eval(operand, scope), plus: true)
        case .not(let operand):
            return .bool(!(try eval(operand, scope).isTruthy))
        case .binary(let op, let lhs, let rhs):
            let a = try eval(lhs, scope)
            let b = try eval(rhs, scope)
            currentLine = expr.line
            return try Value.binary(op, a, b, sizeLimit: limits.maxOutputBytes)
        case .and(let lhs, let rhs):
            let a = try eval(lhs, scope)
            return a.isTruthy ? try eval(rhs, scope) : a
        case .or(let lhs, let rhs):
            let a = try eval(lhs, scope)
            return a.isTruthy ? a : try eval(rhs, scope)
        case .concat(let parts):
            var text = ""
            for part in parts {
                text += try eval(part, scope).pyStr
                if text.utf8.count > limits.maxOutputBytes {
                    throw TemplateError.limit("string exceeds the output size limit")
                }
            }
            return .string(text)
        case .compare(let first, let rest):
            var left = try eval(first, scope)
            for (op, operand) in rest {
                let right = try eval(operand, scope)
                currentLine = expr.line
                guard try compare(op, left, right) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let test, let then, let otherwise):
            if try eval(test, scope).isTruthy { return try eval(then, scope) }
            if let otherwise { return try eval(otherwise, scope) }
            if constantMode { throw NotConstant() }
            return .undefined(
                Undefined(
                    hint: "the inline if-expression on line \(expr.line) evaluated to false and no else section"
                        + " was defined."))
        case .call(let callee, let argExprs):
            if constantMode { throw NotConstant() }
            let function = try eval(callee, scope)
            let args = try evalArguments(argExprs, scope)
            currentLine = expr.line
            return try call(function, args)
        case .filter(let operand, let name, let argExprs):
            if constantMode && (operand == nil || ASTWalker.contextFilters.contains(name)) { throw NotConstant() }
            let value: Value
            if let operand {
                value = try eval(operand, scope)
            } else {
                value = filterInput ?? .string("")
            }
            let args = try evalArguments(argExprs, scope)
            currentLine = expr.line
            return try applyFilter(name, value, args)
        case .test(let operand, let name, let argExprs):
            let value = try eval(operand, scope)
            let args = try evalArguments(argExprs, scope)
            currentLine = expr.line
            return .bool(try applyTest(name, value, args))
        }
    }

    func evalArguments(_ args: CallArguments, _ scope: Scope) throws -> Arguments {
        var result = Arguments()
        result.positional = try args.positional.map { try eval($0, scope) }
        if let star = args.starArgs { result.positional += try iterate(try eval(star, scope)) }
        result.keyword = try args.keyword.map { ($0.0, try eval($0.1, scope)) }
        if let starStar = args.starKwargs {
            guard case .dict(let d) = try eval(starStar, scope) else {
                throw TemplateError.runtime("argument after ** must be a mapping")
            }
            for (key, value) in zip(d.keys, d.values) {
                guard let name = key.stringValue else { throw TemplateError.runtime("keywords must be strings") }
                result.keyword.append((name, value))
            }
        }
        return result
    }

    /// Python comparison operators, `in` and `not in`.
    func compare(_ op: CompareOp, _ a: Value, _ b: Value) throws -> Bool {
        switch op {
        case .eq: return a.pyEquals(b)
        case .ne: return !a.pyEquals(b)
        case .lt: return try Value.pyCompare(.lt, a, b)
        case .le: return try Value.pyCompare(.le, a, b)
        case .gt: return try Value.pyCompare(.gt, a, b)
        case .ge: return try Value.pyCompare(.ge, a, b)
        case .in: return try contains(b, a)
        case .notIn: return !(try contains(b, a))
        }
    }

    /// Python `item in container`.
    func contains(_ container: Value, _ item: Value) throws -> Bool {
        switch container {
        case .string(let s), .markup(let s):
            guard let needle = item.stringValue else {
                throw TemplateError.runtime("'in <string>' requires string as left operand, not \(item.typeName)")
            }
            return PyText.contains(s, needle)
        case .list(let items), .tuple(let items):
            return items.contains { $0.pyEquals(item) }
        case .dict(let d):
            return try d.get(item) != nil
        case .undefined:
            return false
        case .iterator(let iterator):
            while let next = iterator.next() {
                if next.pyEquals(item) { return true }
            }
            return false
        case .namespace, .loop, .callable, .cycler, .joiner, .none, .bool, .int, .float:
            throw TemplateError.runtime("argument of type '\(container.typeName)' is not iterable")
        }
    }

    /// Python `iter(value)` fully consumed.
    func iterate(_ value: Value) throws -> [Value] {
        switch value {
        case .list(let items), .tuple(let items): return items
        case .string(let s), .markup(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .dict(let d): return d.keys
        case .undefined: return []
        case .iterator(let iterator): return iterator.drain()
        case .loop(let loop): return loop.items
        default: throw TemplateError.runtime("'\(value.typeName)' object is not iterable")
        }
    }

    /// Python `len(value)`.
    func length(_ value: Value) throws -> Int {
        switch value {
        case .string(let s), .markup(let s): return s.unicodeScalars.count
        case .list(let items), .tuple(let items): return items.count
        case .dict(let d): return d.count
        case .undefined: return 0
        case .loop(let loop): return loop.length
        default: throw TemplateError.runtime("object of type '\(value.typeName)' has no len()")
        }
    }
}
