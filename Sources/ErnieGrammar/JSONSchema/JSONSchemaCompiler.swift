/// Compiles a JSON Schema to grammar rules whose language is JSON text valid under the schema, written in the
/// canonical form of `JSONTerminals` (`", "` and `": "` separators, no other whitespace).
///
/// Supported keywords: `type` (one or a list), `enum`, `const`, `properties` (keys generated in schema order),
/// `required`, `additionalProperties` (default: false when `properties` is given, else any keys), `items`,
/// `prefixItems`, `minItems`, `maxItems`, `minLength`, `maxLength`, `pattern` (the regex subset of
/// `RegexCompiler`, generated as a full match), `format` (`date`, `time`, `date-time`, `uuid`, `email`, `ipv4`),
/// `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (integers: any bounds; numbers: the generated values
/// stay inside), `anyOf`, `oneOf` (alternatives; oneOf's exclusivity is not enforced), `allOf` with one schema,
/// `$ref` to `#`, `#/$defs/...` or `#/definitions/...` (recursion allowed), `$defs`/`definitions`, and the annotations
/// (`title`, `description`, `default`, `examples`, `$schema`, `$id`, `$comment`, ...), which are ignored.
/// Rejected with `GrammarError.unsupportedSchemaKeywords`: `not`, `if`/`then`/`else`, `patternProperties`,
/// `propertyNames`, `dependentRequired`, `dependentSchemas`, `dependencies`, `unevaluatedProperties`,
/// `unevaluatedItems`, `contains`, `minContains`, `maxContains`, `uniqueItems: true`, `minProperties`,
/// `maxProperties`, `multipleOf`, `$dynamicRef`, `$recursiveRef`, and combinations the compiler cannot express
/// (`anyOf`/`oneOf`/`allOf` next to other constraints, `pattern` with length bounds, fractional bounds on
/// integers are fine but on `number` only integral bounds are). Other unknown keywords are ignored, as JSON Schema
/// requires.
public struct JSONSchemaCompiler {
    static let unsupportedKeywords: Set<String> = [
        "not", "if", "then", "else", "patternProperties", "propertyNames", "dependentRequired", "dependentSchemas",
        "dependencies", "unevaluatedProperties", "unevaluatedItems", "contains", "minContains", "maxContains",
        "minProperties", "maxProperties", "multipleOf", "$dynamicRef", "$recursiveRef",
    ]
    /// Keywords that constrain a value (anything else is an annotation or unknown).
    static let constraintKeywords: Set<String> = [
        "type", "enum", "const", "properties", "required", "additionalProperties", "items", "prefixItems",
        "minItems", "maxItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf", "allOf", "$ref",
    ]
    static let maximumDepth = 64

    var builder: GrammarBuilder
    let document: SchemaJSON
    private var refRules: [String: Int] = [:]
    var commonRules: [String: Int] = [:]
    private var depth = 0

    /// A compiler that adds rules to `builder` and resolves `$ref`s against `document`.
    public init(builder: GrammarBuilder = GrammarBuilder(), document: SchemaJSON) {
        self.builder = builder
        self.document = document
    }

    /// The grammar of JSON text valid under `schema` (a whole document).
    public static func grammar(for schema: SchemaJSON) throws(GrammarError) -> Grammar {
        var compiler = JSONSchemaCompiler(document: schema)
        let body = try compiler.compile(schema, path: "#")
        let root = compiler.builder.add("root", body)
        return try compiler.builder.build(root: root)
    }

    /// The expression of JSON text valid under `schema` (its own document for `$ref`s), with the rules it needs
    /// added to `builder`: for composing several schemas into one grammar.
    public static func expression(for schema: SchemaJSON, into builder: inout GrammarBuilder) throws(GrammarError)
        -> GrammarExpr
    {
        var compiler = JSONSchemaCompiler(builder: builder, document: schema)
        let expr = try compiler.compile(schema, path: "#")
        builder = compiler.builder
        return expr
    }

    /// The grammar of any JSON object (`response_format: {"type": "json_object"}`).
    public static func anyObjectGrammar() throws(GrammarError) -> Grammar {
        var compiler = JSONSchemaCompiler(document: .object([]))
        let object = compiler.commonRule("object")
        let root = compiler.builder.add("root", .rule(object))
        return try compiler.builder.build(root: root)
    }

    /// The expression of JSON values valid under `schema`, found at `path` of the document.
    public mutating func compile(_ schema: SchemaJSON, path: String) throws(GrammarError) -> GrammarExpr {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else {
            throw .tooLarge("the schema nests deeper than \(Self.maximumDepth) levels at \(path)")
        }
        switch schema {
        case .bool(true):
            return .rule(commonRule("value"))
        case .bool(false):
            throw .invalidSchema(path: path, message: "the schema 'false' accepts no value")
        case .object(let members):
            let keys = members.map(\.key)
            let unsupported = keys.filter { Self.unsupportedKeywords.contains($0) }
                + (schema["uniqueItems"] == .bool(true) ? ["uniqueItems"] : [])
            if !unsupported.isEmpty { throw .unsupportedSchemaKeywords(path: path, keywords: unsupported) }
            return try compileObjectSchema(schema, keys: Set(keys), path: path)
        default:
            throw .invalidSchema(path: path, message: "a schema must be an object or a boolean, got \(schema.typeName)")
        }
    }

    private mutating func compileObjectSchema(_ schema: SchemaJSON, keys: Set<String>, path: String)
        throws(GrammarError) -> GrammarExpr
    {
        let constraints = keys.intersection(Self.constraintKeywords)
        if let ref = schema["$ref"] {
            let others = constraints.subtracting(["$ref"])
            guard others.isEmpty else {
                throw .unsupportedSchemaKeywords(path: path, keywords: ["$ref"] + others.sorted())
            }
            guard case .string(let target) = ref else {
                throw .invalidSchema(path: path + "/$ref", message: "'$ref' must be a string")
            }
            return .rule(try refRule(target, path: path))
        }
        for combinator in ["anyOf", "oneOf", "allOf"] where schema[combinator] != nil {
            let others = constraints.subtracting([combinator])
            guard others.isEmpty else {
                throw .unsupportedSchemaKeywords(path: path, keywords: [combinator] + others.sorted())
            }
            guard case .array(let branches) = schema[combinator]!, !branches.isEmpty else {
                throw .invalidSchema(path: path + "/" + combinator, message: "'\(combinator)' must be a non-empty array")
            }
            if combinator == "allOf" {
                guard branches.count == 1 else {
                    throw .unsupportedSchemaKeywords(path: path, keywords: ["allOf (with more than one schema)"])
                }
                return try compile(branches[0], path: path + "/allOf/0")
            }
            var alternatives: [GrammarExpr] = []
            for (index, branch) in branches.enumerated() {
                alternatives.append(try compile(branch, path: "\(path)/\(combinator)/\(index)"))
            }
            return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
        }
        let types = try declaredTypes(schema, path: path)
        if let constant = schema["const"] {
            return .literal(constant.canonicalText)
        }
        if let values = schema["enum"] {
            guard case .array(let list) = values, !list.isEmpty else {
                throw .invalidSchema(path: path + "/enum", message: "'enum' must be a non-empty array")
            }
            let allowed = list.filter { value in types.map { $0.contains { Self.matches(value, type: $0) } } ?? true }
            guard !allowed.isEmpty else {
                throw .invalidSchema(path: path + "/enum", message: "no 'enum' value has the declared type")
            }
            return .choice(allowed.map { .literal($0.canonicalText) })
        }
        let effective = types ?? inferredTypes(keys)
        guard let effective else { return .rule(commonRule("value")) }
        var alternatives: [GrammarExpr] = []
        for type in effective {
            switch type {
            case "string": alternatives.append(try stringExpr(schema, path: path))
            case "integer": alternatives.append(try integerExpr(schema, path: path))
            case "number": alternatives.append(try numberExpr(schema, path: path))
            case "boolean": alternatives.append(.choice([.literal("true"), .literal("false")]))
            case "null": alternatives.append(.literal("null"))
            case "object": alternatives.append(try objectExpr(schema, path: path))
            case "array": alternatives.append(try arrayExpr(schema, path: path))
            default: break
            }
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    private static let typeNames: Set<String> = ["string", "integer", "number", "boolean", "null", "object", "array"]

    private func declaredTypes(_ schema: SchemaJSON, path: String) throws(GrammarError) -> [String]? {
        guard let type = schema["type"] else { return nil }
        var names: [String] = []
        switch type {
        case .string(let name): names = [name]
        case .array(let list):
            for element in list {
                guard case .string(let name) = element else {
                    throw .invalidSchema(path: path + "/type", message: "'type' entries must be strings")
                }
                names.append(name)
            }
        default:
            throw .invalidSchema(path: path + "/type", message: "'type' must be a string or an array of strings")
        }
        for name in names where !Self.typeNames.contains(name) {
            throw .invalidSchema(path: path + "/type", message: "unknown type '\(name)'")
        }
        guard !names.isEmpty else { throw .invalidSchema(path: path + "/type", message: "'type' is empty") }
        // "number" covers "integer".
        if names.contains("number") { names.removeAll { $0 == "integer" } }
        return names
    }

    /// Types implied by type-specific keywords when `type` is missing; nil when nothing implies one.
    private func inferredTypes(_ keys: Set<String>) -> [String]? {
        var types: [String] = []
        if !keys.isDisjoint(with: ["properties", "required", "additionalProperties"]) { types.append("object") }
        if !keys.isDisjoint(with: ["items", "prefixItems", "minItems", "maxItems"]) { types.append("array") }
        if !keys.isDisjoint(with: ["minLength", "maxLength", "pattern", "format"]) { types.append("string") }
        if !keys.isDisjoint(with: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]) {
            types.append("number")
        }
        return types.isEmpty ? nil : types
    }

    static func matches(_ value: SchemaJSON, type: String) -> Bool {
        switch (value, type) {
        case (.string, "string"), (.bool, "boolean"), (.null, "null"), (.object, "object"), (.array, "array"),
            (.number, "number"):
            return true
        case (.number(_, let x), "integer"):
            return x == x.rounded()
        default:
            return false
        }
    }

    // MARK: References and shared rules

    private mutating func refRule(_ target: String, path: String) throws(GrammarError) -> Int {
        if let existing = refRules[target] { return existing }
        guard target == "#" || target.hasPrefix("#/") else {
            throw .unsupportedSchemaKeywords(path: path, keywords: ["$ref to '\(target)' (only local '#/...' refs)"])
        }
        var node = document
        if target != "#" {
            for raw in target.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
                let token = String(raw).replacingOccurrences(of: "~1", with: "/")
                    .replacingOccurrences(of: "~0", with: "~")
                switch node {
                case .object:
                    guard let next = node[token] else {
                        throw .invalidSchema(path: path + "/$ref", message: "'\(target)' does not exist")
                    }
                    node = next
                case .array(let elements):
                    guard let index = Int(token), index >= 0, index < elements.count else {
                        throw .invalidSchema(path: path + "/$ref", message: "'\(target)' does not exist")
                    }
                    node = elements[index]
                default:
                    throw .invalidSchema(path: path + "/$ref", message: "'\(target)' does not exist")
                }
            }
        }
        let name = target == "#" ? "schema" : String(target.split(separator: "/").last ?? "ref")
        let rule = builder.declare(Self.ruleName(name))
        refRules[target] = rule
        let body = try compile(node, path: target)
        builder.define(rule, body)
        return rule
    }

    private static func ruleName(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.map { $0.isASCII && ($0.properties.isAlphabetic || $0.properties
            .numericType != nil) ? Character($0) : "_" })
        return cleaned.isEmpty ? "ref" : cleaned
    }

    /// The shared rules of generic JSON: `value`, `object`, `array`, `string`.
    mutating func commonRule(_ name: String) -> Int {
        if let existing = commonRules[name] { return existing }
        let rule = builder.declare(name)
        commonRules[name] = rule
        switch name {
        case "string":
            builder.define(rule, .sequence([.literal("\""), .zeroOrMore(JSONTerminals.stringCharacter), .literal("\"")]))
        case "value":
            let object = commonRule("object")
            let array = commonRule("array")
            let string = commonRule("string")
            builder.define(rule, .choice([
                .rule(object), .rule(array), .rule(string), JSONTerminals.number, .literal("true"), .literal("false"),
                .literal("null"),
            ]))
        case "object":
            let string = commonRule("string")
            let value = commonRule("value")
            let member = GrammarExpr.sequence([.rule(string), JSONTerminals.keySeparator, .rule(value)])
            builder.define(rule, .sequence([
                .literal("{"), .optional(.sequence([member, .zeroOrMore(.sequence([JSONTerminals.itemSeparator, member]))])),
                .literal("}"),
            ]))
        default:  // "array"
            let value = commonRule("value")
            builder.define(rule, .sequence([
                .literal("["),
                .optional(.sequence([.rule(value), .zeroOrMore(.sequence([JSONTerminals.itemSeparator, .rule(value)]))])),
                .literal("]"),
            ]))
        }
        return rule
    }
}
