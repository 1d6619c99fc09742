/// Typed, validated access to the members of a request object; every failure is a 400 ``APIError`` naming the field.
///
/// `null` counts as absent, as in the OpenAI and SGLang servers (Pydantic's `Optional` fields).
public struct FieldReader: Sendable {
    public let object: JSONObject
    /// Prefix of parameter names in errors (`"sampling_params."`, `"messages[2]."`).
    public let prefix: String

    public init(_ object: JSONObject, prefix: String = "") {
        self.object = object
        self.prefix = prefix
    }

    /// Reads `value` as an object, or throws naming `param`.
    public init(_ value: JSONValue, param: String?, prefix: String = "") throws(APIError) {
        guard case .object(let object) = value else {
            let what = param.map { "'\($0)'" } ?? "The request body"
            throw .invalidParameter(param, "\(what) must be a JSON object, got \(value.typeDescription).")
        }
        self.init(object, prefix: prefix)
    }

    /// The full parameter name of `key`.
    public func param(_ key: String) -> String { prefix + key }

    /// The member's value when present and not null.
    public func value(_ key: String) -> JSONValue? {
        guard let value = object[key], !value.isNull else { return nil }
        return value
    }

    public func has(_ key: String) -> Bool { value(key) != nil }

    func typeError(_ key: String, expected: String, got value: JSONValue) -> APIError {
        .invalidParameter(param(key), "'\(param(key))' must be \(expected), got \(value.typeDescription).")
    }

    public func string(_ key: String) throws(APIError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw typeError(key, expected: "a string", got: value) }
        return text
    }

    public func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw typeError(key, expected: "a boolean", got: value) }
        return flag
    }

    /// An integer; a number with an integral value (`2.0`) is accepted as Pydantic does.
    public func int(_ key: String) throws(APIError) -> Int? {
        guard let value = value(key) else { return nil }
        guard let number = Self.integer(value) else { throw typeError(key, expected: "an integer", got: value) }
        return number
    }

    static func integer(_ value: JSONValue) -> Int? {
        switch value {
        case .int(let number): return number
        case .double(let number):
            guard number.rounded() == number, abs(number) < 9.0e15 else { return nil }
            return Int(number)
        default: return nil
        }
    }

    public func double(_ key: String) throws(APIError) -> Double? {
        guard let value = value(key) else { return nil }
        switch value {
        case .int(let number): return Double(number)
        case .double(let number): return number
        default: throw typeError(key, expected: "a number", got: value)
        }
    }

    /// An integer that must lie in `range`.
    public func int(_ key: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let number = try int(key) else { return nil }
        guard range.contains(number) else {
            throw .invalidParameter(
                param(key),
                "'\(param(key))' must be between \(range.lowerBound) and \(range.upperBound), got \(number).")
        }
        return number
    }

    /// A number that must satisfy `isValid`; `requirement` says what that is ("in (0, 1]").
    public func double(_ key: String, _ requirement: String, _ isValid: (Double) -> Bool) throws(APIError) -> Double? {
        guard let number = try double(key) else { return nil }
        guard isValid(number) else {
            throw .invalidParameter(param(key), "'\(param(key))' must be \(requirement), got \(number).")
        }
        return number
    }

    public func object(_ key: String) throws(APIError) -> JSONObject? {
        guard let value = value(key) else { return nil }
        guard case .object(let object) = value else { throw typeError(key, expected: "an object", got: value) }
        return object
    }

    public func array(_ key: String) throws(APIError) -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard case .array(let array) = value else { throw typeError(key, expected: "an array", got: value) }
        return array
    }

    /// A string or a list of strings (`stop`).
    public func stringList(_ key: String) throws(APIError) -> [String]? {
        guard let value = value(key) else { return nil }
        switch value {
        case .string(let text): return [text]
        case .array(let elements):
            var result: [String] = []
            for (i, element) in elements.enumerated() {
                guard case .string(let text) = element else {
                    throw .invalidParameter(
                        "\(param(key))[\(i)]",
                        "'\(param(key))[\(i)]' must be a string, got \(element.typeDescription).")
                }
                result.append(text)
            }
            return result
        default:
            throw typeError(key, expected: "a string or a list of strings", got: value)
        }
    }

    /// A list of integers (`stop_token_ids`).
    public func intList(_ key: String) throws(APIError) -> [Int]? {
        guard let value = value(key) else { return nil }
        guard case .array(let elements) = value else {
            throw typeError(key, expected: "a list of integers", got: value)
        }
        return try Self.intList(elements, param: param(key))
    }

    static func intList(_ elements: [JSONValue], param: String) throws(APIError) -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            guard let number = integer(element) else {
                throw .invalidParameter(
                    "\(param)[\(i)]", "'\(param)[\(i)]' must be an integer, got \(element.typeDescription).")
            }
            result.append(number)
        }
        return result
    }
}
