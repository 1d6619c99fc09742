extension JSONSchemaCompiler {
    /// Longest `maxLength` / `maxItems` bound turned into a counted repetition.
    static let maximumCount = 10_000

    /// Calendar dates that exist in every year (no 29 February), years 1000 to 9999.
    static let date = #"[1-9][0-9]{3}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"#

    static let time = #"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"#

    static let formats: [String: String] = [
        "date": date,
        "time": time,
        "date-time": date + "T" + time,
        "uuid": #"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"#,
        "email": #"[a-zA-Z0-9._%+-]{1,32}@[a-zA-Z0-9-]{1,32}(\.[a-zA-Z0-9-]{1,32}){0,3}\.[a-zA-Z]{2,8}"#,
        "ipv4": #"((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"#,
    ]

    // MARK: Strings

    mutating func stringExpr(_ schema: SchemaJSON, path: String) throws(GrammarError) -> GrammarExpr {
        let minLength = try count(schema, "minLength", path: path)
        let maxLength = try count(schema, "maxLength", path: path)
        var content: GrammarExpr
        if let format = schema["format"] {
            guard case .string(let name) = format else {
                throw .invalidSchema(path: path + "/format", message: "'format' must be a string")
            }
            guard let regex = Self.formats[name] else {
                throw .unsupportedSchemaKeywords(path: path, keywords: ["format '\(name)'"])
            }
            guard schema["pattern"] == nil, minLength == nil, maxLength == nil else {
                throw .unsupportedSchemaKeywords(path: path, keywords: ["format with pattern or length bounds"])
            }
            content = try RegexCompiler.compile(regex, encode: JSONTerminals.encodeInString)
        } else if let pattern = schema["pattern"] {
            guard case .string(let regex) = pattern else {
                throw .invalidSchema(path: path + "/pattern", message: "'pattern' must be a string")
            }
            guard minLength == nil, maxLength == nil else {
                throw .unsupportedSchemaKeywords(path: path, keywords: ["pattern with minLength/maxLength"])
            }
            do {
                content = try RegexCompiler.compile(regex, encode: JSONTerminals.encodeInString)
            } catch {
                throw .invalidSchema(path: path + "/pattern", message: error.description)
            }
        } else if minLength != nil || maxLength != nil {
            let low = minLength ?? 0
            if let maxLength, maxLength < low {
                throw .invalidSchema(path: path, message: "maxLength \(maxLength) is below minLength \(low)")
            }
            guard low <= Self.maximumCount, (maxLength ?? 0) <= Self.maximumCount else {
                throw .tooLarge("string length bounds above \(Self.maximumCount) at \(path)")
            }
            let character = commonCharacterRule()
            content = .repetition(.rule(character), min: low, max: maxLength)
        } else {
            return .rule(commonRule("string"))
        }
        return .sequence([.literal("\""), content, .literal("\"")])
    }

    private mutating func commonCharacterRule() -> Int {
        let key = "string_char"
        if let existing = commonRules[key] { return existing }
        let rule = builder.add(key, JSONTerminals.stringCharacter)
        commonRules[key] = rule
        return rule
    }

    // MARK: Numbers

    mutating func integerExpr(_ schema: SchemaJSON, path: String) throws(GrammarError) -> GrammarExpr {
        let bounds = try numericBounds(schema, path: path)
        if bounds.low == nil && bounds.high == nil { return JSONTerminals.integer }
        var low: Int64?
        var high: Int64?
        if let (value, exclusive) = bounds.low {
            low = Self.clamp(exclusive ? (value + 1).rounded(.down) : value.rounded(.up))
        }
        if let (value, exclusive) = bounds.high {
            high = Self.clamp(exclusive ? (value - 1).rounded(.up) : value.rounded(.down))
        }
        guard let expr = IntegerRange.integers(low, high) else {
            throw .invalidSchema(path: path, message: "no integer satisfies the bounds")
        }
        return expr
    }

    mutating func numberExpr(_ schema: SchemaJSON, path: String) throws(GrammarError) -> GrammarExpr {
        let bounds = try numericBounds(schema, path: path)
        if bounds.low == nil && bounds.high == nil { return JSONTerminals.number }
        var alternatives: [GrammarExpr] = []
        if let integers = try? integerExpr(schema, path: path) { alternatives.append(integers) }
        // k.F with k >= 0 lies in [k, k + 1); -k.F lies in (-(k + 1), -k].
        let fraction = JSONTerminals.fraction
        var positiveLow: Int64 = 0
        var positiveHigh: Int64?
        var negativeLow: Int64 = 0
        var negativeHigh: Int64?
        if let (value, exclusive) = bounds.low {
            positiveLow = max(0, Self.clamp(exclusive ? value.rounded(.down) + 1 : value.rounded(.up)))
            negativeHigh = Self.clamp((-value).rounded(.down) - 1)
        }
        if let (value, exclusive) = bounds.high {
            positiveHigh = Self.clamp(value.rounded(.down) - 1)
            negativeLow = max(0, Self.clamp(exclusive ? (-value).rounded(.down) + 1 : (-value).rounded(.up)))
        }
        if positiveHigh.map({ $0 >= positiveLow }) ?? true, let k = IntegerRange.naturals(positiveLow, positiveHigh) {
            alternatives.append(.sequence([k, fraction]))
        }
        if negativeHigh.map({ $0 >= negativeLow }) ?? true, let k = IntegerRange.naturals(negativeLow, negativeHigh) {
            alternatives.append(.sequence([.literal("-"), k, fraction]))
        }
        // An inclusive integral bound may also be written with a zero fraction (`5.0`, `-5.00`).
        let zeros = GrammarExpr.sequence([
            .literal("."), .repetition(.literal("0"), min: 1, max: JSONTerminals.maximumFractionDigits),
        ])
        for bound in [bounds.low, bounds.high] {
            guard let (value, exclusive) = bound, !exclusive, value == value.rounded(),
                abs(value) <= Double(IntegerRange.maximum)
            else { continue }
            let magnitude = Int64(abs(value))
            alternatives.append(.sequence([value < 0 ? .literal("-") : .empty, .literal(String(magnitude)), zeros]))
        }
        guard !alternatives.isEmpty else {
            throw .invalidSchema(path: path, message: "no number satisfies the bounds")
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    private static func clamp(_ value: Double) -> Int64 {
        let limit = Double(IntegerRange.maximum)
        return Int64(min(max(value, -limit), limit))
    }

    /// Lower and upper bounds with their exclusivity (draft 4's boolean `exclusiveMinimum` is honoured too).
    private func numericBounds(_ schema: SchemaJSON, path: String) throws(GrammarError)
        -> (low: (Double, Bool)?, high: (Double, Bool)?)
    {
        func number(_ key: String) throws(GrammarError) -> Double? {
            guard let value = schema[key] else { return nil }
            switch value {
            case .number(_, let x) where x.isFinite: return x
            case .bool: return nil
            default: throw .invalidSchema(path: path + "/" + key, message: "'\(key)' must be a number")
            }
        }
        var low: (Double, Bool)?
        var high: (Double, Bool)?
        if let minimum = try number("minimum") { low = (minimum, schema["exclusiveMinimum"] == .bool(true)) }
        if let maximum = try number("maximum") { high = (maximum, schema["exclusiveMaximum"] == .bool(true)) }
        if let value = try number("exclusiveMinimum"), low.map({ value >= $0.0 }) ?? true { low = (value, true) }
        if let value = try number("exclusiveMaximum"), high.map({ value <= $0.0 }) ?? true { high = (value, true) }
        return (low, high)
    }

    // MARK: Objects

    mutating func objectExpr(_ schema: SchemaJSON, path: String) throws(GrammarError) -> GrammarExpr {
        var properties: [(name: String, schema: SchemaJSON)] = []
        if let value = schema["properties"] {
            guard case .object(let members) = value else {
                throw .invalidSchema(path: path + "/properties", message: "'properties' must be an object")
            }
            for member in members where !properties.contains(where: { $0.name == member.key }) {
                properties.append((member.key, schema["properties"]?[member.key] ?? member.value))
            }
        }
        var required = Set<String>()
        if let value = schema["required"] {
            guard case .array(let names) = value else {
                throw .invalidSchema(path: path + "/required", message: "'required' must be an array of strings")
            }
            for name in names {
                guard case .string(let text) = name else {
                    throw .invalidSchema(path: path + "/required", message: "'required' must be an array of strings")
                }
                required.insert(text)
                if !properties.contains(where: { $0.name == text }) { properties.append((text, .bool(true))) }
            }
        }
        var additional: GrammarExpr?
        switch schema["additionalProperties"] {
        case nil:
            if schema["properties"] == nil && schema["required"] == nil { additional = .rule(commonRule("value")) }
        case .bool(let allowed)?:
            if allowed { additional = .rule(commonRule("value")) }
        case let value?:
            additional = try compile(value, path: path + "/additionalProperties")
        }
        var pairs: [GrammarExpr] = []
        for (name, propertySchema) in properties {
            let value = try compile(propertySchema, path: path + "/properties/" + name)
            pairs.append(.sequence([.literal(SchemaJSON.quoted(name)), JSONTerminals.keySeparator, value]))
        }
        let extraPair = additional.map { value -> GrammarExpr in
            .sequence([.rule(commonRule("string")), JSONTerminals.keySeparator, value])
        }
        let separator = JSONTerminals.itemSeparator
        // rest[i]: properties i... after something was written; start[i]: the same before anything was written.
        var rest: GrammarExpr = extraPair.map { .zeroOrMore(.sequence([separator, $0])) } ?? .empty
        var start: GrammarExpr = extraPair.map { .optional(.sequence([$0, .zeroOrMore(.sequence([separator, $0]))])) }
            ?? .empty
        for index in properties.indices.reversed() {
            let pair = pairs[index]
            let restRule = builder.add("object_rest", rest)
            if required.contains(properties[index].name) {
                start = .sequence([pair, .rule(restRule)])
                rest = .sequence([separator, pair, .rule(restRule)])
            } else {
                let startRule = builder.add("object_start", start)
                start = .choice([.sequence([pair, .rule(restRule)]), .rule(startRule)])
                rest = .sequence([.optional(.sequence([separator, pair])), .rule(restRule)])
            }
        }
        return .sequence([.literal("{"), start, .literal("}")])
    }

    // MARK: Arrays

    mutating func arrayExpr(_ schema: SchemaJSON, path: String) throws(GrammarError) -> GrammarExpr {
        var prefix: [GrammarExpr] = []
        if let value = schema["prefixItems"] {
            guard case .array(let schemas) = value else {
                throw .invalidSchema(path: path + "/prefixItems", message: "'prefixItems' must be an array")
            }
            for (index, itemSchema) in schemas.enumerated() {
                prefix.append(try compile(itemSchema, path: "\(path)/prefixItems/\(index)"))
            }
        }
        var item: GrammarExpr?
        switch schema["items"] {
        case nil, .bool(true)?:
            item = .rule(commonRule("value"))
        case .bool(false)?:
            item = nil
        case let value?:
            item = try compile(value, path: path + "/items")
        }
        let minItems = try count(schema, "minItems", path: path) ?? 0
        var maxItems = try count(schema, "maxItems", path: path)
        if item == nil { maxItems = min(maxItems ?? prefix.count, prefix.count) }
        if let maxItems, maxItems < minItems {
            throw .invalidSchema(path: path, message: "maxItems \(maxItems) is below minItems \(minItems)")
        }
        guard minItems <= Self.maximumCount, (maxItems ?? 0) <= Self.maximumCount else {
            throw .tooLarge("array length bounds above \(Self.maximumCount) at \(path)")
        }
        func element(_ index: Int) -> GrammarExpr? { index < prefix.count ? prefix[index] : item }
        if maxItems == 0 { return .literal("[]") }
        guard let first = element(0) else { return .literal("[]") }
        let separator = JSONTerminals.itemSeparator
        // Elements after the prefix repeat `item`.
        var tail: GrammarExpr = .empty
        if let item, maxItems.map({ $0 > prefix.count }) ?? true {
            let from = max(prefix.count, 1)
            tail = .repetition(
                .sequence([separator, item]), min: max(0, minItems - from), max: maxItems.map { $0 - from })
        }
        var body = tail
        for index in stride(from: prefix.count - 1, through: 1, by: -1) {
            if let maxItems, index >= maxItems { continue }
            let step = GrammarExpr.sequence([separator, prefix[index], body])
            body = index >= minItems ? .optional(step) : step
        }
        let content = GrammarExpr.sequence([first, body])
        return .sequence([.literal("["), minItems == 0 ? .optional(content) : content, .literal("]")])
    }

    private func count(_ schema: SchemaJSON, _ key: String, path: String) throws(GrammarError) -> Int? {
        guard let value = schema[key] else { return nil }
        guard case .number(_, let x) = value, x >= 0, x == x.rounded(), x <= 1e9 else {
            throw .invalidSchema(path: path + "/" + key, message: "'\(key)' must be a non-negative integer")
        }
        return Int(x)
    }
}
