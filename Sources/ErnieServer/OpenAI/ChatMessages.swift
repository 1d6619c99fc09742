/// Validation and normalisation of an OpenAI `messages` list before it reaches the chat template.
enum ChatMessages {
    static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool"]

    /// Checks every message and returns them with the key order the client used, `content` given as a list of text
    /// parts joined into one string (newline-separated) and `developer` turned into `system`.
    static func parse(_ value: JSONValue?, param: String = "messages") throws(APIError) -> [JSONObject] {
        guard let value, !value.isNull else {
            throw .invalidParameter(param, "'\(param)' is required.")
        }
        guard case .array(let elements) = value else {
            throw .invalidParameter(param, "'\(param)' must be an array of messages, got \(value.typeDescription).")
        }
        guard !elements.isEmpty else { throw .invalidParameter(param, "'\(param)' must contain at least one message.") }
        var messages: [JSONObject] = []
        messages.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            messages.append(try parseMessage(element, param: "\(param)[\(i)]"))
        }
        return messages
    }

    private static func parseMessage(_ value: JSONValue, param: String) throws(APIError) -> JSONObject {
        let reader = try FieldReader(value, param: param, prefix: param + ".")
        guard let role = try reader.string("role") else {
            throw .invalidParameter(reader.param("role"), "'\(reader.param("role"))' is required.")
        }
        guard roles.contains(role) else {
            throw .invalidParameter(
                reader.param("role"),
                "Unknown role '\(role)' in '\(reader.param("role"))'; expected one of system, user, assistant, tool.")
        }
        var message = reader.object
        if role == "developer" { message["role"] = "system" }
        switch reader.value("content") {
        case nil:
            guard role == "assistant" else {
                throw .invalidParameter(reader.param("content"), "'\(reader.param("content"))' is required.")
            }
        case .string:
            break
        case .array(let parts):
            message["content"] = .string(try joinTextParts(parts, param: reader.param("content")))
        case let other?:
            throw .invalidParameter(
                reader.param("content"),
                "'\(reader.param("content"))' must be a string or a list of text parts, got \(other.typeDescription).")
        }
        if let toolCalls = reader.value("tool_calls") {
            guard case .array = toolCalls else {
                throw .invalidParameter(
                    reader.param("tool_calls"),
                    "'\(reader.param("tool_calls"))' must be an array, got \(toolCalls.typeDescription).")
            }
        }
        return message
    }

    private static func joinTextParts(_ parts: [JSONValue], param: String) throws(APIError) -> String {
        var texts: [String] = []
        for (i, part) in parts.enumerated() {
            let reader = try FieldReader(part, param: "\(param)[\(i)]", prefix: "\(param)[\(i)].")
            let type = try reader.string("type") ?? "text"
            guard type == "text" else {
                throw .invalidParameter(
                    reader.param("type"),
                    "Content part type '\(type)' is not supported; this server accepts text parts only.")
            }
            guard let text = try reader.string("text") else {
                throw .invalidParameter(reader.param("text"), "'\(reader.param("text"))' is required.")
            }
            texts.append(text)
        }
        return texts.joined(separator: "\n")
    }

    /// Validates `tools`: a list of `{"type": "function", "function": {"name": ...}}` objects.
    static func parseTools(_ value: JSONValue?) throws(APIError) -> JSONValue? {
        guard let value, !value.isNull else { return nil }
        guard case .array(let tools) = value else {
            throw .invalidParameter("tools", "'tools' must be an array, got \(value.typeDescription).")
        }
        for (i, tool) in tools.enumerated() {
            let reader = try FieldReader(tool, param: "tools[\(i)]", prefix: "tools[\(i)].")
            let type = try reader.string("type") ?? "function"
            guard type == "function" else {
                throw .invalidParameter(reader.param("type"), "Tool type '\(type)' is not supported; use 'function'.")
            }
            guard let function = try reader.object("function") else {
                throw .invalidParameter(reader.param("function"), "'\(reader.param("function"))' is required.")
            }
            let functionReader = FieldReader(function, prefix: reader.param("function") + ".")
            guard try functionReader.string("name") != nil else {
                throw .invalidParameter(functionReader.param("name"), "'\(functionReader.param("name"))' is required.")
            }
        }
        return tools.isEmpty ? nil : value
    }
}
