import Foundation

/// A JSON file from a tokenizer folder. Its accessors check types and throw errors that name the file and the key.
struct JSONDocument {
    let path: String
    let root: [String: Any]

    /// Reads and parses `path`; nil when the file does not exist.
    static func load(_ path: String) throws -> JSONDocument? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.file(path, "cannot be read")
        }
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw TokenizerError.file(path, "malformed JSON: \(error.localizedDescription)")
        }
        guard let object = value as? [String: Any] else {
            throw TokenizerError.file(path, "expected a JSON object at the top level")
        }
        return JSONDocument(path: path, root: object)
    }
}

/// Typed access to values of parsed JSON; `key` is the dotted path used in error messages.
struct JSONReader {
    let path: String

    /// `JSONSerialization` returns numbers and booleans as `NSNumber`, and `NSNumber(1) is Bool` holds; booleans are
    /// told apart by their class.
    private static let booleanClass = ObjectIdentifier(type(of: NSNumber(value: true) as AnyObject))

    static func isBoolean(_ value: Any) -> Bool {
        ObjectIdentifier(type(of: value as AnyObject)) == booleanClass
    }

    func isNull(_ value: Any?) -> Bool { value == nil || value is NSNull }

    func object(_ value: Any?, _ key: String) throws -> [String: Any]? {
        if isNull(value) { return nil }
        guard let object = value as? [String: Any] else { throw TokenizerError.file(path, "\(key) must be an object") }
        return object
    }

    func array(_ value: Any?, _ key: String) throws -> [Any]? {
        if isNull(value) { return nil }
        guard let array = value as? [Any] else { throw TokenizerError.file(path, "\(key) must be an array") }
        return array
    }

    func string(_ value: Any?, _ key: String) throws -> String? {
        if isNull(value) { return nil }
        guard let string = value as? String else { throw TokenizerError.file(path, "\(key) must be a string") }
        return string
    }

    func bool(_ value: Any?, _ key: String) throws -> Bool? {
        guard let value, !(value is NSNull) else { return nil }
        guard JSONReader.isBoolean(value), let bool = value as? Bool else {
            throw TokenizerError.file(path, "\(key) must be true or false")
        }
        return bool
    }

    func int(_ value: Any?, _ key: String) throws -> Int? {
        guard let value, !(value is NSNull) else { return nil }
        if JSONReader.isBoolean(value) { throw TokenizerError.file(path, "\(key) must be an integer") }
        if let int = value as? Int { return int }
        if let double = value as? Double, let int = Int(exactly: double) { return int }
        throw TokenizerError.file(path, "\(key) must be an integer")
    }

    func double(_ value: Any?, _ key: String) throws -> Double? {
        guard let value, !(value is NSNull) else { return nil }
        if JSONReader.isBoolean(value) { throw TokenizerError.file(path, "\(key) must be a number") }
        if let double = value as? Double { return double }
        if let int = value as? Int { return Double(int) }
        throw TokenizerError.file(path, "\(key) must be a number")
    }

    func requiredString(_ value: Any?, _ key: String) throws -> String {
        guard let string = try string(value, key) else { throw TokenizerError.file(path, "\(key) is missing") }
        return string
    }

    func requiredObject(_ value: Any?, _ key: String) throws -> [String: Any] {
        guard let object = try object(value, key) else { throw TokenizerError.file(path, "\(key) is missing") }
        return object
    }
}
