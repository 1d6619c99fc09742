import Foundation

/// A parsed JSON value, for files whose keys are read one by one with clear errors (config.json, shard indexes,
/// safetensors headers).
enum JSONValue: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses `data`; `file` names the source in the error.
    static func parse(_ data: Data, file: String) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw ModelError.invalidField(file: file, key: "(document)", reason: "not valid JSON (\(error))")
        }
    }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    var intValue: Int? {
        switch self {
        case let .int(v): v
        case let .double(v) where v.rounded() == v && abs(v) < 1e15: Int(v)
        default: nil
        }
    }

    var doubleValue: Double? {
        switch self {
        case let .int(v): Double(v)
        case let .double(v): v
        default: nil
        }
    }
}

/// Typed access to the keys of one JSON object, with errors naming the file and key.
struct JSONObjectReader {
    let object: [String: JSONValue]
    let file: String
    /// Prefix for nested keys in error messages ("rope_parameters.").
    var keyPrefix: String = ""

    init(_ value: JSONValue, file: String, what: String = "(document)") throws {
        guard case let .object(object) = value else {
            throw ModelError.invalidField(file: file, key: what, reason: "expected a JSON object, found \(value.typeName)")
        }
        self.object = object
        self.file = file
    }

    init(object: [String: JSONValue], file: String, keyPrefix: String) {
        self.object = object
        self.file = file
        self.keyPrefix = keyPrefix
    }

    /// The value of `key`, `nil` when absent (a JSON `null` is returned as `.null`).
    func value(_ key: String) -> JSONValue? { object[key] }

    func has(_ key: String) -> Bool { object[key] != nil }

    func isNull(_ key: String) -> Bool { object[key] == .null }

    private func invalid(_ key: String, _ reason: String) -> ModelError {
        .invalidField(file: file, key: keyPrefix + key, reason: reason)
    }

    /// An integer; `nil` when the key is absent or null.
    func int(_ key: String) throws -> Int? {
        guard let v = object[key], v != .null else { return nil }
        guard let i = v.intValue else { throw invalid(key, "expected an integer, found \(v.typeName)") }
        return i
    }

    func requiredInt(_ key: String) throws -> Int {
        guard let i = try int(key) else {
            if isNull(key) { throw invalid(key, "expected an integer, found null") }
            throw ModelError.missingField(file: file, key: keyPrefix + key)
        }
        return i
    }

    func double(_ key: String) throws -> Double? {
        guard let v = object[key], v != .null else { return nil }
        guard let d = v.doubleValue else { throw invalid(key, "expected a number, found \(v.typeName)") }
        return d
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = object[key], v != .null else { return nil }
        guard case let .bool(b) = v else { throw invalid(key, "expected true or false, found \(v.typeName)") }
        return b
    }

    func string(_ key: String) throws -> String? {
        guard let v = object[key], v != .null else { return nil }
        guard case let .string(s) = v else { throw invalid(key, "expected a string, found \(v.typeName)") }
        return s
    }

    /// An integer or a list of integers (`eos_token_id`); `nil` when absent or null.
    func intList(_ key: String) throws -> [Int]? {
        guard let v = object[key], v != .null else { return nil }
        if let i = v.intValue { return [i] }
        guard case let .array(items) = v else {
            throw invalid(key, "expected an integer or a list of integers, found \(v.typeName)")
        }
        return try items.map {
            guard let i = $0.intValue else { throw invalid(key, "list holds a \($0.typeName), expected integers") }
            return i
        }
    }

    func stringList(_ key: String) throws -> [String]? {
        guard let v = object[key], v != .null else { return nil }
        if case let .string(s) = v { return [s] }
        guard case let .array(items) = v else { throw invalid(key, "expected a list of strings, found \(v.typeName)") }
        return try items.map {
            guard case let .string(s) = $0 else { throw invalid(key, "list holds a \($0.typeName), expected strings") }
            return s
        }
    }

    /// A nested object; `nil` when absent or null.
    func nested(_ key: String) throws -> JSONObjectReader? {
        guard let v = object[key], v != .null else { return nil }
        guard case let .object(o) = v else { throw invalid(key, "expected an object, found \(v.typeName)") }
        return JSONObjectReader(object: o, file: file, keyPrefix: keyPrefix + key + ".")
    }
}
