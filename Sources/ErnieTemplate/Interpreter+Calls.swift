extension Interpreter {
    /// Calls a template value.
    func call(_ function: Value, _ args: Arguments) throws -> Value {
        switch function {
        case .undefined(let u):
            throw u.error
        case .callable(.macro(let macro)):
            return try callMacro(macro, args)
        case .callable(.builtin(let builtin)):
            return try callBuiltin(builtin, args)
        case .callable(.method(let method)):
            return try callMethod(method.receiver, method.name, args)
        case .loop(let loop):
            return try recurse(loop, args)
        case .joiner(let joiner):
            try args.none("joiner")
            if !joiner.used {
                joiner.used = true
                return .string("")
            }
            return .string(joiner.separator)
        default:
            throw TemplateError.runtime("'\(function.typeName)' object is not callable")
        }
    }

    /// Binds arguments as jinja2's `Macro.__call__` does and renders the body in a fresh scope.
    func callMacro(_ macro: MacroValue, _ args: Arguments) throws -> Value {
        let definition = macro.definition
        let frame = enter(definition.shadows, macro.closure ?? Scope(parent: nil))
        guard macro.closure != nil else { throw TemplateError.runtime("macro called after the render ended") }
        var keywords = args.keyword
        func takeKeyword(_ name: String) -> Value? {
            guard let i = keywords.firstIndex(where: { $0.0 == name }) else { return nil }
            return keywords.remove(at: i).1
        }
        let parameters = definition.parameters
        var provided = [Bool](repeating: false, count: parameters.count)
        for (i, name) in parameters.enumerated() {
            if i < args.positional.count {
                frame.set(name, args.positional[i])
                provided[i] = true
            } else if let value = takeKeyword(name) {
                frame.set(name, value)
                provided[i] = true
            }
        }
        if definition.usesCaller && !parameters.contains("caller") {
            frame.set("caller", takeKeyword("caller") ?? .undefined(Undefined(hint: "No caller defined")))
        }
        if definition.usesKwargs {
            frame.set("kwargs", .dict(PyDict(stringPairs: keywords)))
        } else if let (extra, _) = keywords.first {
            if extra == "caller" {
                throw TemplateError.runtime(
                    "macro '\(definition.name)' was invoked with two values for the special caller argument."
                        + " This is most likely a bug.")
            }
            throw TemplateError.runtime("macro '\(definition.name)' takes no keyword argument '\(extra)'")
        }
        if definition.usesVarargs {
            frame.set("varargs", .tuple(Array(args.positional.dropFirst(parameters.count))))
        } else if args.positional.count > parameters.count {
            throw TemplateError.runtime(
                "macro '\(definition.name)' takes not more than \(parameters.count) argument(s)")
        }
        try enterCall()
        defer { leaveCall() }
        let firstDefault = parameters.count - definition.defaults.count
        for (i, name) in parameters.enumerated() where !provided[i] {
            if i >= firstDefault {
                frame.set(name, try eval(definition.defaults[i - firstDefault], frame))
            } else {
                frame.set(name, .undefined(Undefined(hint: "parameter '\(name)' was not provided")))
            }
        }
        let (text, _) = try capture { try exec(definition.body, frame) }
        return .string(text)
    }

    // MARK: builtins

    func callBuiltin(_ builtin: Builtin, _ args: Arguments) throws -> Value {
        switch builtin {
        case .range:
            guard args.keyword.isEmpty else { throw TemplateError.runtime("range() takes no keyword arguments") }
            let ints = try args.positional.map { v -> Int in
                guard let i = v.intValue else {
                    throw TemplateError.runtime("'\(v.typeName)' object cannot be interpreted as an integer")
                }
                return i
            }
            let (start, stop, step): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, step) = (0, ints[0], 1)
            case 2: (start, stop, step) = (ints[0], ints[1], 1)
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw TemplateError.runtime("range expected 1 to 3 arguments, got \(ints.count)")
            }
            guard step != 0 else { throw TemplateError.runtime("range() arg 3 must not be zero") }
            let count: Int
            if step > 0 {
                count = start < stop ? (stop - start - 1) / step + 1 : 0
            } else {
                count = start > stop ? (start - stop - 1) / (-step) + 1 : 0
            }
            guard count <= 100_000 else {
                throw TemplateError.runtime("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).")
            }
            return .list((0..<count).map { .int(start + $0 * step) })
        case .dict:
            guard args.positional.count <= 1 else {
                throw TemplateError.runtime("dict expected at most 1 argument, got \(args.positional.count)")
            }
            var d = try args.positional.first.map(dictFrom) ?? PyDict()
            for (key, value) in args.keyword { d.set(string: key, value) }
            return .dict(d)
        case .namespace:
            guard args.positional.count <= 1 else {
                throw TemplateError.runtime("namespace expected at most 1 positional argument")
            }
            var d = try args.positional.first.map(dictFrom) ?? PyDict()
            for (key, value) in args.keyword { d.set(string: key, value) }
            let ns = Namespace(d)
            namespaces.append(ns)
            return .namespace(ns)
        case .cycler:
            guard !args.positional.isEmpty else {
                throw TemplateError.runtime("at least one item has to be provided")
            }
            return .cycler(Cycler(args.positional))
        case .joiner:
            let bound = try args.bind("joiner", ["sep"])
            return .joiner(Joiner(bound[0].map { $0.pyStr } ?? ", "))
        case .lipsum:
            throw TemplateError.runtime("lipsum() is not supported")
        case .raiseException:
            let bound = try args.bind("raise_exception", ["message"], required: 1)
            throw TemplateError(message: (bound[0] ?? .none).pyStr, line: currentLine, kind: .raised)
        case .strftimeNow:
            let bound = try args.bind("strftime_now", ["format"], required: 1)
            guard let format = bound[0]?.stringValue else {
                throw TemplateError.runtime("strftime() argument 1 must be str")
            }
            return .string(Clock.format(format, timestamp: fixedTime))
        }
    }

    /// `dict(x)`: a mapping, or an iterable of key/value pairs.
    func dictFrom(_ value: Value) throws -> PyDict {
        if case .dict(let d) = value { return d }
        if case .namespace(let ns) = value { return ns.attributes }
        var d = PyDict()
        for item in try iterate(value) {
            let pair = try iterate(item)
            guard pair.count == 2 else {
                throw TemplateError.runtime(
                    "dictionary update sequence element has length \(pair.count); 2 is required")
            }
            try d.set(pair[0], pair[1])
        }
        return d
    }
}
