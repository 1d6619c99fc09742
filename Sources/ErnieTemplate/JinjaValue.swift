/// A value in a template context; objects keep their key order (needed for `tojson` to match Python).
///
/// In a template, `.none` is Python's `None`, `.int` / `.double` are `int` / `float` (printed as Python prints them),
/// `.array` is a list and `.object` a dict (with duplicate keys, the last value wins at the first position, as in
/// `json.loads`). `.undefined` is jinja2's `Undefined`.
public indirect enum JinjaValue: Sendable, Equatable {
    /// jinja2's `Undefined` (prints as nothing, fails `is defined`).
    case undefined
    /// `None` / JSON `null`.
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JinjaValue])
    /// Members in order.
    case object([(String, JinjaValue)])

    public static func == (lhs: JinjaValue, rhs: JinjaValue) -> Bool {
        switch (lhs, rhs) {
        case (.undefined, .undefined), (.none, .none): true
        case let (.bool(a), .bool(b)): a == b
        case let (.int(a), .int(b)): a == b
        case let (.double(a), .double(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.object(a), .object(b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}

extension JinjaValue {
    /// The value of `key` when this is an object that has it (the last occurrence wins, as in a Python dict).
    public subscript(key: String) -> JinjaValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == key }?.1
    }

    /// The string when this is `.string`.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The elements when this is `.array`.
    public var arrayValue: [JinjaValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// The members when this is `.object`.
    public var objectValue: [(String, JinjaValue)]? {
        if case .object(let members) = self { return members }
        return nil
    }
}

extension JinjaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JinjaValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JinjaValue)...) { self = .object(elements) }
    public init(nilLiteral: ()) { self = .none }
}
