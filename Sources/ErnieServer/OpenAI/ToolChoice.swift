/// OpenAI's `tool_choice`.
enum ToolChoice: Sendable, Equatable, CustomStringConvertible {
    /// The model decides (the default when tools are given).
    case auto
    /// No tool calls: tools are not shown to the model.
    case none
    /// At least one tool call.
    case required
    /// Exactly one call of this function.
    case function(String)

    /// Reads `tool_choice` (`"none"`, `"auto"`, `"required"` or `{"type": "function", "function": {"name": ...}}`)
    /// and checks it against `tools`.
    init(_ value: JSONValue?, tools: JSONValue?) throws(APIError) {
        switch value {
        case nil, .string("auto")?:
            self = .auto
        case .string("none")?:
            self = .none
        case .string("required")?:
            self = .required
        case .object(let object)?:
            let reader = FieldReader(object, prefix: "tool_choice.")
            let type = try reader.string("type") ?? "function"
            guard type == "function" else {
                throw .invalidParameter("tool_choice.type", "'tool_choice.type' must be 'function', got '\(type)'.")
            }
            guard let function = try reader.object("function"),
                let name = try FieldReader(function, prefix: "tool_choice.function.").string("name")
            else {
                throw .invalidParameter("tool_choice.function.name", "'tool_choice.function.name' is required.")
            }
            self = .function(name)
        case let other?:
            throw .invalidParameter(
                "tool_choice",
                "'tool_choice' must be 'none', 'auto', 'required' or an object, got \(other.typeDescription).")
        }
        guard forcesCalls else { return }
        guard let tools, !ToolChoice.functions(tools).isEmpty else {
            throw .invalidParameter("tool_choice", "'tool_choice' '\(description)' needs 'tools'.")
        }
        if case .function(let name) = self, !ToolChoice.functions(tools).contains(where: { $0.name == name }) {
            throw .invalidParameter(
                "tool_choice.function.name", "'tool_choice' names the function '\(name)', which is not in 'tools'.")
        }
    }

    /// Whether the choice forces tool calls (`required` or a named function).
    var forcesCalls: Bool {
        switch self {
        case .required, .function: true
        case .auto, .none: false
        }
    }

    var description: String {
        switch self {
        case .auto: "auto"
        case .none: "none"
        case .required: "required"
        case .function(let name): name
        }
    }

    /// The functions of validated `tools`: name and `parameters` (JSON text).
    static func functions(_ tools: JSONValue) -> [ToolCallConstraint.Function] {
        guard case .array(let list) = tools else { return [] }
        return list.compactMap { tool in
            guard case .object(let object) = tool, case .object(let function)? = object["function"],
                case .string(let name)? = function["name"]
            else { return nil }
            let parameters = function["parameters"].flatMap { $0.isNull ? nil : JSONWriter.string($0) }
            return ToolCallConstraint.Function(name: name, parameters: parameters)
        }
    }

    /// The constraint a forcing choice puts on the output (`nil` for `auto` and `none`).
    func constraint(tools: JSONValue?) -> ToolCallConstraint? {
        guard let tools else { return nil }
        switch self {
        case .required:
            return ToolCallConstraint(functions: ToolChoice.functions(tools), single: false)
        case .function(let name):
            return ToolCallConstraint(functions: ToolChoice.functions(tools).filter { $0.name == name }, single: true)
        case .auto, .none:
            return nil
        }
    }
}
