/// An insertion-ordered dictionary with Python key semantics (`1`, `1.0` and `True` are the same key; strings compare
/// by code point, not by canonical equivalence).
struct PyDict {
    private(set) var keys: [Value] = []
    private(set) var values: [Value] = []
    private var index: [HashKey: Int] = [:]

    init() {}

    /// Builds a dict from string keys (later duplicates overwrite earlier values, keeping the first position).
    init(stringPairs: [(String, Value)]) {
        index.reserveCapacity(stringPairs.count)
        for (key, value) in stringPairs {
            set(.string(PyString(key)), key: .string(key), value)
        }
    }

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }

    /// Value for a key; throws when the key is unhashable.
    func get(_ key: Value) throws -> Value? {
        guard let slot = index[try HashKey(key)] else { return nil }
        return values[slot]
    }

    func get(string key: String) -> Value? {
        guard let slot = index[.string(PyString(key))] else { return nil }
        return values[slot]
    }

    mutating func set(_ key: Value, _ value: Value) throws {
        set(try HashKey(key), key: key, value)
    }

    mutating func set(string key: String, _ value: Value) {
        set(.string(PyString(key)), key: .string(key), value)
    }

    private mutating func set(_ hashKey: HashKey, key: Value, _ value: Value) {
        if let slot = index[hashKey] {
            values[slot] = value
        } else {
            index[hashKey] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    /// `(key, value)` pairs in order.
    var items: [(Value, Value)] { Array(zip(keys, values)) }
}

/// A string wrapper that compares and hashes by UTF-8 bytes (= Python code point equality).
struct PyString: Hashable {
    let text: String
    init(_ text: String) { self.text = text }

    static func == (lhs: PyString, rhs: PyString) -> Bool { PyString.sameCodePoints(lhs.text, rhs.text) }

    func hash(into hasher: inout Hasher) {
        var copy = text
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(0xFF as UInt8)
    }

    /// Code-point equality (Swift's `==` would also equate canonically equivalent strings).
    static func sameCodePoints(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var x = a
        var y = b
        return x.withUTF8 { p in y.withUTF8 { q in p.elementsEqual(q) } }
    }
}

/// The hashable identity of a Python dict key / set element.
enum HashKey: Hashable {
    case none
    case int(Int)
    case float(UInt64)
    case string(PyString)
    case tuple([HashKey])
    case object(ObjectIdentifier)

    init(_ value: Value) throws {
        switch value {
        case .none: self = .none
        case .bool(let b): self = .int(b ? 1 : 0)
        case .int(let i): self = .int(i)
        case .float(let d):
            if d.rounded() == d, let i = Int(exactly: d) {
                self = .int(i)
            } else {
                self = .float(d == 0 ? 0 : d.bitPattern)
            }
        case .string(let s), .markup(let s): self = .string(PyString(s))
        case .tuple(let items): self = .tuple(try items.map(HashKey.init))
        case .undefined: self = .object(ObjectIdentifier(Undefined.self as Any.Type))
        case .namespace(let o): self = .object(ObjectIdentifier(o))
        case .loop(let o): self = .object(ObjectIdentifier(o))
        case .iterator(let o): self = .object(ObjectIdentifier(o))
        case .cycler(let o): self = .object(ObjectIdentifier(o))
        case .joiner(let o): self = .object(ObjectIdentifier(o))
        case .callable(let c):
            switch c {
            case .macro(let m): self = .object(ObjectIdentifier(m))
            case .method(let m): self = .object(ObjectIdentifier(m))
            case .builtin(let b): self = .string(PyString("<builtin \(b.rawValue)>"))
            }
        case .list, .dict:
            throw TemplateError.runtime("unhashable type: '\(value.typeName)'")
        }
    }
}
