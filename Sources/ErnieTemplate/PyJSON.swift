/// Python's `json.dumps` for runtime values (transformers' `tojson` filter calls it with `ensure_ascii=False`).
struct PyJSON {
    var ensureASCII = false
    /// `nil`: single line. Otherwise the indent unit (`indent=2` is `"  "`).
    var indent: String?
    var itemSeparator: String
    var keySeparator: String
    var sortKeys = false
    var maxDepth = 512
    /// The output may not grow beyond this many bytes.
    var maxBytes = Int.max

    init(ensureASCII: Bool = false, indent: String? = nil, separators: (String, String)? = nil, sortKeys: Bool = false)
    {
        self.ensureASCII = ensureASCII
        self.indent = indent
        self.sortKeys = sortKeys
        let defaults = indent == nil ? (", ", ": ") : (",", ": ")
        itemSeparator = separators?.0 ?? defaults.0
        keySeparator = separators?.1 ?? defaults.1
    }

    func dumps(_ value: Value) throws -> String {
        var out = ""
        try encode(value, level: 0, into: &out)
        return out
    }

    private func encode(_ value: Value, level: Int, into out: inout String) throws {
        guard level < maxDepth else { throw TemplateError.limit("value nested too deeply for tojson") }
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .float(let d): out += PyJSON.float(d)
        case .string(let s), .markup(let s): PyJSON.quote(s, ascii: ensureASCII, into: &out)
        case .list(let items), .tuple(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += itemSeparator }
                try newline(level + 1, into: &out)
                try encode(item, level: level + 1, into: &out)
            }
            try newline(level, into: &out)
            out += "]"
        case .dict(let d):
            if d.isEmpty {
                out += "{}"
                return
            }
            var pairs = d.items
            if sortKeys { pairs = try stableSorted(pairs) { try Value.pyLess($0.0, $1.0) } }
            out += "{"
            for (i, (key, item)) in pairs.enumerated() {
                if i > 0 { out += itemSeparator }
                try newline(level + 1, into: &out)
                PyJSON.quote(try keyString(key), ascii: ensureASCII, into: &out)
                out += keySeparator
                try encode(item, level: level + 1, into: &out)
            }
            try newline(level, into: &out)
            out += "}"
        default:
            throw TemplateError.runtime("Object of type \(value.typeName) is not JSON serializable")
        }
    }

    private func newline(_ level: Int, into out: inout String) throws {
        guard let indent else { return }
        out += "\n"
        for _ in 0..<level { out += indent }
        if out.utf8.count > maxBytes { throw TemplateError.limit("tojson output exceeds the output size limit") }
    }

    private func keyString(_ key: Value) throws -> String {
        switch key {
        case .string(let s), .markup(let s): return s
        case .float(let d): return PyJSON.float(d)
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .none: return "null"
        default: throw TemplateError.runtime("keys must be str, int, float, bool or None, not \(key.typeName)")
        }
    }

    static func float(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        return PyNumber.repr(d)
    }

    /// A JSON string literal as `json.dumps` writes it.
    static func quote(_ s: String, ascii: Bool, into out: inout String) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if c.value < 0x20 || (ascii && c.value > 0x7E) {
                    if c.value > 0xFFFF {
                        let v = c.value - 0x10000
                        out += unicodeEscape(0xD800 + (v >> 10))
                        out += unicodeEscape(0xDC00 + (v & 0x3FF))
                    } else {
                        out += unicodeEscape(c.value)
                    }
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        out += "\""
    }

    private static func unicodeEscape(_ v: UInt32) -> String {
        let hex = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
