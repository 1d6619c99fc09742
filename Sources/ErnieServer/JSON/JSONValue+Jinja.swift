public import ErnieTemplate

extension JSONValue {
    /// The same value as a template variable; object key order is kept so `tojson` matches Python.
    public var jinjaValue: JinjaValue {
        switch self {
        case .null: .none
        case .bool(let value): .bool(value)
        case .int(let value): .int(value)
        case .double(let value): .double(value)
        case .string(let value): .string(value)
        case .array(let values): .array(values.map(\.jinjaValue))
        case .object(let object): object.jinjaValue
        }
    }
}

extension JSONObject {
    /// The object as a template variable, keys in order.
    public var jinjaValue: JinjaValue {
        .object(members.map { ($0.key, $0.value.jinjaValue) })
    }
}
