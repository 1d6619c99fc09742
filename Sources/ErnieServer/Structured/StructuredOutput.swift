/// What a request's output must match (structured output), before it is compiled to a grammar.
enum StructuredOutput: Sendable, Hashable {
    /// Any JSON object (`response_format: {"type": "json_object"}`).
    case jsonObject
    /// JSON valid under the schema, given as JSON text.
    case jsonSchema(String)
    /// A full match of the regex.
    case regex(String)
    /// The language of a GBNF-style grammar (start rule `root`).
    case ebnf(String)
    /// ERNIE tool-call blocks for the given functions (`tool_choice` `required` or a named function).
    case toolCalls(ToolCallConstraint)
}

/// Tool calls a `tool_choice` forces: one or more blocks calling any of `functions`, or exactly one when `single`.
struct ToolCallConstraint: Sendable, Hashable {
    struct Function: Sendable, Hashable {
        var name: String
        /// The `parameters` JSON Schema as JSON text; `nil` when the tool declares none (any object).
        var parameters: String?
    }

    var functions: [Function]
    var single: Bool
}

/// A structured output and the request field that asked for it (named in errors).
struct StructuredRequest: Sendable, Hashable {
    var output: StructuredOutput
    var param: String
}

/// A structured output plus where it starts: after the model's reasoning (`</think>`) when the reasoning parser is
/// on and the constraint is about the answer (response formats, tool calls), or at the first output token.
struct ConstraintRequest: Sendable, Hashable {
    var output: StructuredOutput
    var afterReasoning: Bool
}

extension StructuredOutput {
    /// OpenAI's `response_format`: `text` (nil), `json_object`, or `json_schema` with `json_schema.schema`.
    static func responseFormat(_ reader: FieldReader) throws(APIError) -> StructuredRequest? {
        try responseFormatOutput(reader).map { StructuredRequest(output: $0, param: "response_format") }
    }

    private static func responseFormatOutput(_ reader: FieldReader) throws(APIError) -> StructuredOutput? {
        guard let format = try reader.object("response_format") else { return nil }
        let formatReader = FieldReader(format, prefix: "response_format.")
        let type = try formatReader.string("type") ?? "text"
        switch type {
        case "text":
            return nil
        case "json_object":
            return .jsonObject
        case "json_schema":
            guard let spec = try formatReader.object("json_schema") else {
                throw .invalidParameter(
                    "response_format.json_schema",
                    "'response_format.json_schema' is required when 'response_format.type' is 'json_schema'.")
            }
            let specReader = FieldReader(spec, prefix: "response_format.json_schema.")
            _ = try specReader.string("name")
            _ = try specReader.bool("strict")
            switch specReader.value("schema") {
            case nil:
                // OpenAI requires a schema; without one, any JSON object.
                return .jsonObject
            case .object(let schema)?:
                return .jsonSchema(JSONWriter.string(.object(schema)))
            case .bool(true)?:
                return .jsonSchema("true")
            case let other?:
                throw .invalidParameter(
                    "response_format.json_schema.schema",
                    "'response_format.json_schema.schema' must be a JSON Schema object, got \(other.typeDescription).")
            }
        default:
            throw .invalidParameter(
                "response_format.type",
                "'response_format.type' must be 'text', 'json_object' or 'json_schema', got '\(type)'.")
        }
    }

    /// SGLang's constraint fields: `json_schema` (JSON text, or an object), `regex` and `ebnf`, at most one of them.
    static func samplingFields(_ reader: FieldReader, keys: [String] = ["json_schema", "regex", "ebnf"])
        throws(APIError) -> StructuredRequest?
    {
        var found: [(String, StructuredOutput)] = []
        for key in keys {
            guard let value = reader.value(key) else { continue }
            switch (key, value) {
            case ("json_schema", .string(let text)):
                let schema: JSONValue
                do {
                    schema = try JSONParser.parse(text)
                } catch {
                    throw .invalidParameter(reader.param(key), "'\(reader.param(key))' is not valid JSON: \(error).")
                }
                found.append((key, .jsonSchema(JSONWriter.string(schema))))
            case ("json_schema", .object):
                found.append((key, .jsonSchema(JSONWriter.string(value))))
            case ("regex", .string(let pattern)):
                found.append((key, .regex(pattern)))
            case ("ebnf", .string(let grammar)):
                found.append((key, .ebnf(grammar)))
            default:
                throw reader.typeError(key, expected: key == "json_schema" ? "a string or an object" : "a string",
                                       got: value)
            }
        }
        guard found.count <= 1 else {
            throw .invalidParameter(
                reader.param(found[1].0),
                "Only one of " + found.map { "'\(reader.param($0.0))'" }.joined(separator: ", ") + " may be given.")
        }
        return found.first.map { StructuredRequest(output: $0.1, param: reader.param($0.0)) }
    }
}
