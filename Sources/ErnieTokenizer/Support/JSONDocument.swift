import Foundation

/// A JSON file from a tokenizer folder. Its accessors check types and throw errors that name the file and the key.
struct JSONDocument {
    let path: String
    let root: JSONObject

    /// Reads and parses `path`; nil when the file does not exist.
    static func load(_ path: String) throws -> JSONDocument? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.file(path, "cannot be read")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse([UInt8](data))
        } catch {
            throw TokenizerError.file(path, "malformed JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object(let object) = value else {
            throw TokenizerError.file(path, "expected a JSON object at the top level")
        }
        return JSONDocument(path: path, root: object)
    }
}

/// Typed access to parsed JSON values; `key` is the dotted path used in error messages.
struct JSONReader {
    let path: String

    func isNull(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?: return true
        default: return false
        }
    }

    func object(_ value: JSONValue?, _ key: String) throws -> JSONObject? {
        switch value {
        case nil, .null?: return nil
        case .object(let object)?: return object
        default: throw TokenizerError.file(path, "\(key) must be an object")
        }
    }

    func array(_ value: JSONValue?, _ key: String) throws -> [JSONValue]? {
        switch value {
        case nil, .null?: return nil
        case .array(let array)?: return array
        default: throw TokenizerError.file(path, "\(key) must be an array")
        }
    }

    func string(_ value: JSONValue?, _ key: String) throws -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let string)?: return string
        default: throw TokenizerError.file(path, "\(key) must be a string")
        }
    }

    func bool(_ value: JSONValue?, _ key: String) throws -> Bool? {
        switch value {
        case nil, .null?: return nil
        case .bool(let bool)?: return bool
        default: throw TokenizerError.file(path, "\(key) must be true or false")
        }
    }

    func int(_ value: JSONValue?, _ key: String) throws -> Int? {
        switch value {
        case nil, .null?: return nil
        case .int(let int)?: return int
        case .double(let double)?:
            guard let int = Int(exactly: double) else { throw TokenizerError.file(path, "\(key) must be an integer") }
            return int
        default: throw TokenizerError.file(path, "\(key) must be an integer")
        }
    }

    func double(_ value: JSONValue?, _ key: String) throws -> Double? {
        switch value {
        case nil, .null?: return nil
        case .int(let int)?: return Double(int)
        case .double(let double)?: return double
        default: throw TokenizerError.file(path, "\(key) must be a number")
        }
    }

    func requiredString(_ value: JSONValue?, _ key: String) throws -> String {
        guard let string = try string(value, key) else { throw TokenizerError.file(path, "\(key) is missing") }
        return string
    }

    func requiredObject(_ value: JSONValue?, _ key: String) throws -> JSONObject {
        guard let object = try object(value, key) else { throw TokenizerError.file(path, "\(key) is missing") }
        return object
    }
}
