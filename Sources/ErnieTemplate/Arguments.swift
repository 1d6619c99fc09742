/// Evaluated call arguments, bound to Python-style parameters by the callee.
struct Arguments {
    var positional: [Value] = []
    var keyword: [(String, Value)] = []

    init(positional: [Value] = [], keyword: [(String, Value)] = []) {
        self.positional = positional
        self.keyword = keyword
    }

    var isEmpty: Bool { positional.isEmpty && keyword.isEmpty }

    /// Binds to parameters `names` (positional-or-keyword, in order); the first `required` must be given.
    func bind(_ function: String, _ names: [String], required: Int = 0) throws -> [Value?] {
        var bound = [Value?](repeating: nil, count: names.count)
        guard positional.count <= names.count else {
            throw TemplateError.runtime(
                "\(function)() takes at most \(names.count) argument(s) (\(positional.count) given)")
        }
        for (i, value) in positional.enumerated() { bound[i] = value }
        for (key, value) in keyword {
            guard let slot = names.firstIndex(of: key) else {
                throw TemplateError.runtime("\(function)() got an unexpected keyword argument '\(key)'")
            }
            guard bound[slot] == nil else {
                throw TemplateError.runtime("\(function)() got multiple values for argument '\(key)'")
            }
            bound[slot] = value
        }
        for i in 0..<required where bound[i] == nil {
            throw TemplateError.runtime("\(function)() missing required argument '\(names[i])'")
        }
        return bound
    }

    /// Rejects any argument (for methods that take none).
    func none(_ function: String) throws {
        guard isEmpty else { throw TemplateError.runtime("\(function)() takes no arguments") }
    }
}

extension Optional where Wrapped == Value {
    /// The argument, treating an explicit `None` like an omitted one (Python's `x=None` defaults).
    var orNone: Value? {
        if case .some(.none) = self { return nil }
        return self
    }
}
