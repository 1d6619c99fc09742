/// Filters over sequences and mappings. Those that are generators in jinja2 (`map`, `select`, `reject`, `unique`,
/// `items`, `batch`, `slice`, `reverse`) return one-shot iterators, so truthiness and `length` behave as in Python.
extension Interpreter {
    private func generator(_ items: [Value], _ typeName: String = "generator") -> Value {
        .iterator(PyIterator(typeName: typeName, items: items))
    }

    private func ignoreCase(_ v: Value) -> Value {
        if case .string(let s) = v { return .string(PyText.lower(s)) }
        if case .markup(let s) = v { return .markup(PyText.lower(s)) }
        return v
    }

    /// jinja2's `_prepare_attribute_parts`: `"a.0.b"` -> `["a", 0, "b"]`.
    private func attributeParts(_ attribute: Value?) -> [Value] {
        guard let attribute = attribute.orNone else { return [] }
        if let s = attribute.stringValue {
            return PyText.splitOn(s, ".").map { part in
                if !part.isEmpty, part.unicodeScalars.allSatisfy({ PyText.isDigit($0) }), let i = Int(part) {
                    return .int(i)
                }
                return .string(part)
            }
        }
        return [attribute]
    }

    /// jinja2's `make_attrgetter`.
    private func attributeGetter(
        _ attribute: Value?, lowercase: Bool = false, default fallback: Value? = nil
    ) -> (Value) throws -> Value {
        let parts = attributeParts(attribute)
        return { item in
            var current = item
            for part in parts {
                current = try self.getitem(current, part)
                if let fallback = fallback.orNone, current.isUndefined { current = fallback }
            }
            return lowercase ? self.ignoreCase(current) : current
        }
    }

    func sequenceFilter(_ name: String, _ value: Value, _ args: Arguments) throws -> Value? {
        switch name {
        case "batch":
            let bound = try args.bind(name, ["linecount", "fill_with"], required: 1)
            let size = try intParameter(bound[0], 1)
            try PyText.checkWidth(size)
            var batches: [Value] = []
            var current: [Value] = []
            for item in try iterate(value) {
                if current.count == size {
                    batches.append(.list(current))
                    current = []
                }
                current.append(item)
            }
            if !current.isEmpty {
                if let fill = bound[1].orNone, current.count < size {
                    current += Array(repeating: fill, count: size - current.count)
                }
                batches.append(.list(current))
            }
            return generator(batches)
        case "slice":
            let bound = try args.bind(name, ["slices", "fill_with"], required: 1)
            let slices = try intParameter(bound[0], 1)
            guard slices > 0 else { throw TemplateError.runtime("integer division or modulo by zero") }
            let seq = try iterate(value)
            let perSlice = seq.count / slices
            let withExtra = seq.count % slices
            var offset = 0
            var out: [Value] = []
            for number in 0..<slices {
                try tick()
                let start = offset + number * perSlice
                if number < withExtra { offset += 1 }
                let end = offset + (number + 1) * perSlice
                var part = Array(seq[min(start, seq.count)..<min(max(start, end), seq.count)])
                if let fill = bound[1].orNone, number >= withExtra { part.append(fill) }
                out.append(.list(part))
            }
            return generator(out)
        case "dictsort":
            let bound = try args.bind(name, ["case_sensitive", "by", "reverse"])
            guard case .dict(let d) = value else {
                throw TemplateError.runtime("'\(value.typeName)' object has no attribute 'items'")
            }
            let by = bound[1]?.pyStr ?? "key"
            guard by == "key" || by == "value" else {
                throw TemplateError.runtime("You can only sort by either \"key\" or \"value\"")
            }
            let caseSensitive = bound[0]?.isTruthy ?? false
            let reverse = bound[2]?.isTruthy ?? false
            func key(_ pair: (Value, Value)) -> Value {
                let v = by == "key" ? pair.0 : pair.1
                return caseSensitive ? v : ignoreCase(v)
            }
            let sorted = try stableSorted(d.items) { a, b in
                reverse ? try Value.pyLess(key(b), key(a)) : try Value.pyLess(key(a), key(b))
            }
            return .list(sorted.map { .tuple([$0.0, $0.1]) })
        case "sort":
            let bound = try args.bind(name, ["reverse", "case_sensitive", "attribute"])
            let reverse = bound[0]?.isTruthy ?? false
            let lowercase = !(bound[1]?.isTruthy ?? false)
            let getters: [(Value) throws -> Value]
            if let attribute = bound[2].orNone, let spec = attribute.stringValue {
                getters = PyText.splitOn(spec, ",").map { attributeGetter(.string($0), lowercase: lowercase) }
            } else {
                getters = [attributeGetter(bound[2], lowercase: lowercase)]
            }
            let items = try iterate(value)
            let keyed = try items.map { item in (item, Value.list(try getters.map { try $0(item) })) }
            let sorted = try stableSorted(keyed) { a, b in
                reverse ? try Value.pyLess(b.1, a.1) : try Value.pyLess(a.1, b.1)
            }
            return .list(sorted.map(\.0))
        case "unique":
            let bound = try args.bind(name, ["case_sensitive", "attribute"])
            let getter = attributeGetter(bound[1], lowercase: !(bound[0]?.isTruthy ?? false))
            var seen = Set<HashKey>()
            var out: [Value] = []
            for item in try iterate(value) where seen.insert(try HashKey(try getter(item))).inserted {
                out.append(item)
            }
            return generator(out)
        case "min", "max":
            let bound = try args.bind(name, ["case_sensitive", "attribute"])
            let getter = attributeGetter(bound[1], lowercase: !(bound[0]?.isTruthy ?? false))
            let items = try iterate(value)
            guard var best = items.first else {
                return .undefined(Undefined(hint: "No aggregated item, sequence was empty."))
            }
            var bestKey = try getter(best)
            for item in items.dropFirst() {
                let key = try getter(item)
                if name == "min" ? try Value.pyLess(key, bestKey) : try Value.pyLess(bestKey, key) {
                    best = item
                    bestKey = key
                }
            }
            return best
        case "sum":
            let bound = try args.bind(name, ["attribute", "start"])
            let getter = attributeGetter(bound[0])
            var total = bound[1] ?? .int(0)
            for item in try iterate(value) {
                total = try Value.binary(.add, total, try getter(item), sizeLimit: limits.maxOutputBytes)
            }
            return total
        case "join":
            let bound = try args.bind(name, ["d", "attribute"])
            let separator = bound[0]?.pyStr ?? ""
            var items = try iterate(value)
            if let attribute = bound[1].orNone {
                let getter = attributeGetter(attribute)
                items = try items.map(getter)
            }
            var out = ""
            for (i, item) in items.enumerated() {
                if i > 0 { out += separator }
                out += item.pyStr
                if out.utf8.count > limits.maxOutputBytes {
                    throw TemplateError.limit("string exceeds the output size limit")
                }
            }
            return .string(out)
        case "first":
            try args.none(name)
            let item: Value?
            if case .iterator(let it) = value { item = it.next() } else { item = try iterate(value).first }
            return item ?? .undefined(Undefined(hint: "No first item, sequence was empty."))
        case "last":
            try args.none(name)
            switch value {
            case .list, .tuple, .string, .markup, .dict, .undefined:
                return try iterate(value).last ?? .undefined(Undefined(hint: "No last item, sequence was empty."))
            default:
                throw TemplateError.runtime("'\(value.typeName)' object is not reversible")
            }
        case "random":
            try args.none(name)
            switch value {
            case .list(let items), .tuple(let items):
                return items.randomElement() ?? .undefined(Undefined(hint: "No random item, sequence was empty."))
            case .string(let s), .markup(let s):
                return s.unicodeScalars.randomElement().map { .string(String($0)) }
                    ?? .undefined(Undefined(hint: "No random item, sequence was empty."))
            default:
                throw TemplateError.runtime("object of type '\(value.typeName)' has no len()")
            }
        case "list":
            try args.none(name)
            return .list(try iterate(value))
        case "items":
            try args.none(name)
            if value.isUndefined { return generator([]) }
            guard case .dict(let d) = value else {
                throw TemplateError.runtime("Can only get item pairs from a mapping.")
            }
            return generator(zip(d.keys, d.values).map { .tuple([$0, $1]) })
        case "reverse":
            try args.none(name)
            switch value {
            case .string(let s): return .string(PyText.string(s.unicodeScalars.reversed()))
            case .markup(let s): return .markup(PyText.string(s.unicodeScalars.reversed()))
            case .list(let items), .tuple(let items): return generator(items.reversed(), "list_reverseiterator")
            case .dict(let d): return generator(d.keys.reversed(), "dict_reversekeyiterator")
            case .undefined: return generator([], "reversed")
            case .iterator(let it): return .list(it.drain().reversed())
            default: throw TemplateError.runtime("argument must be iterable")
            }
        case "map":
            guard value.isTruthy else { return generator([]) }
            if args.positional.isEmpty, args.keyword.contains(where: { $0.0 == "attribute" }) {
                var attribute: Value = .none
                var fallback: Value?
                for (key, v) in args.keyword {
                    switch key {
                    case "attribute": attribute = v
                    case "default": fallback = v
                    default: throw TemplateError.runtime("Unexpected keyword argument '\(key)'")
                    }
                }
                let getter = attributeGetter(attribute, default: fallback)
                return generator(try iterate(value).map(getter))
            }
            guard let filterName = args.positional.first?.stringValue else {
                throw TemplateError.runtime("map requires a filter argument")
            }
            let rest = Arguments(positional: Array(args.positional.dropFirst()), keyword: args.keyword)
            return generator(try iterate(value).map { try applyFilter(filterName, $0, rest) })
        case "select", "reject", "selectattr", "rejectattr":
            guard value.isTruthy else { return generator([]) }
            let byAttribute = name.hasSuffix("attr")
            var positional = args.positional
            var getter: (Value) throws -> Value = { $0 }
            if byAttribute {
                guard !positional.isEmpty else { throw TemplateError.runtime("Missing parameter for attribute name") }
                getter = attributeGetter(positional.removeFirst())
            }
            let keep = name.hasPrefix("select")
            var predicate: (Value) throws -> Bool = { $0.isTruthy }
            if !positional.isEmpty {
                guard let testName = positional.removeFirst().stringValue else {
                    throw TemplateError.runtime("test name must be a string")
                }
                let rest = Arguments(positional: positional, keyword: args.keyword)
                predicate = { try self.applyTest(testName, $0, rest) }
            }
            return generator(try iterate(value).filter { try predicate(try getter($0)) == keep })
        case "groupby":
            let bound = try args.bind(name, ["attribute", "default", "case_sensitive"], required: 1)
            let caseSensitive = bound[2]?.isTruthy ?? false
            let key = attributeGetter(bound[0], lowercase: !caseSensitive, default: bound[1])
            let output = attributeGetter(bound[0], default: bound[1])
            let keyed = try iterate(value).map { ($0, try key($0)) }
            let sorted = try stableSorted(keyed) { try Value.pyLess($0.1, $1.1) }
            var groups: [(Value, [Value])] = []
            for (item, k) in sorted {
                if let last = groups.last, last.0.pyEquals(k) {
                    groups[groups.count - 1].1.append(item)
                } else {
                    groups.append((k, [item]))
                }
            }
            return .list(
                try groups.map { k, items in
                    .tuple([caseSensitive ? k : try output(items[0]), .list(items)])
                })
        default:
            return nil
        }
    }
}

extension PyText {
    /// `s.split(sep)` for a non-empty literal separator.
    static func splitOn(_ s: String, _ separator: String) -> [String] {
        (try? split(s, separator: separator, maxsplit: -1)) ?? [s]
    }
}
