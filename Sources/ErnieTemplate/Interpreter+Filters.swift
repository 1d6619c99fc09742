#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#elseif canImport(Musl)
    import Musl
#endif

/// The names jinja2 3.1 knows (plus transformers' `tojson` override).
enum Filters {
    static let known: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
        "filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent", "int", "join", "last",
        "length", "list", "lower", "items", "map", "min", "max", "pprint", "random", "reject", "rejectattr",
        "replace", "reverse", "round", "safe", "select", "selectattr", "slice", "sort", "string", "striptags", "sum",
        "title", "trim", "truncate", "unique", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr",
        "tojson",
    ]
}

extension Interpreter {
    func applyFilter(_ name: String, _ value: Value, _ args: Arguments) throws -> Value {
        if let result = try sequenceFilter(name, value, args) { return result }
        switch name {
        case "abs":
            try args.none(name)
            switch value {
            case .int, .bool:
                let i = value.intValue ?? 0
                if i == .min { throw TemplateError.runtime("integer overflow") }
                return .int(abs(i))
            case .float(let d): return .float(abs(d))
            default: throw TemplateError.runtime("bad operand type for abs(): '\(value.typeName)'")
            }
        case "attr":
            let bound = try args.bind(name, ["name"], required: 1)
            guard let attributeName = bound[0]?.stringValue else {
                throw TemplateError.runtime("attribute name must be string")
            }
            if let found = try attribute(value, attributeName) { return found }
            return .undefined(Undefined(owner: value.objectTypeDescription, attribute: attributeName))
        case "capitalize": try args.none(name); return .string(PyText.capitalize(value.pyStr))
        case "center":
            let bound = try args.bind(name, ["width"])
            return .string(try PyText.pad(value.pyStr, width: try intParameter(bound[0], 80), fill: " ", align: "^"))
        case "d", "default":
            let bound = try args.bind(name, ["default_value", "boolean"])
            let useDefault = value.isUndefined || ((bound[1]?.isTruthy ?? false) && !value.isTruthy)
            return useDefault ? bound[0] ?? .string("") : value
        case "e", "escape":
            try args.none(name)
            if case .markup = value { return value }
            return .markup(PyText.htmlEscape(value.pyStr))
        case "forceescape":
            try args.none(name)
            return .markup(PyText.htmlEscape(value.pyStr))
        case "filesizeformat":
            let bound = try args.bind(name, ["binary"])
            return .string(try fileSize(value, binary: bound[0]?.isTruthy ?? false))
        case "float":
            let bound = try args.bind(name, ["default"])
            if case .undefined(let u) = value { throw u.error }
            return toFloat(value) ?? bound[0] ?? .float(0)
        case "format":
            if !args.positional.isEmpty && !args.keyword.isEmpty {
                throw TemplateError.runtime("can't handle positional and keyword arguments at the same time")
            }
            let operand: Value =
                args.keyword.isEmpty
                ? .tuple(args.positional) : .dict(PyDict(stringPairs: args.keyword))
            return .string(try PyFormat.percent(value.pyStr, operand))
        case "indent":
            let bound = try args.bind(name, ["width", "first", "blank"])
            return try indent(
                value, width: bound[0] ?? .int(4), first: bound[1]?.isTruthy ?? false,
                blank: bound[2]?.isTruthy ?? false)
        case "int":
            let bound = try args.bind(name, ["default", "base"])
            return try toInt(value, base: try intParameter(bound[1], 10)) ?? bound[0] ?? .int(0)
        case "length", "count":
            try args.none(name)
            return .int(try length(value))
        case "lower": try args.none(name); return .string(PyText.lower(value.pyStr))
        case "upper": try args.none(name); return .string(PyText.upper(value.pyStr))
        case "title": try args.none(name); return .string(titleFilter(value.pyStr))
        case "pprint":
            try args.none(name)
            let text = prettyRepr(value)
            guard text.unicodeScalars.count <= 80 else {
                throw TemplateError.runtime("pprint of values longer than 80 characters is not supported")
            }
            return .string(text)
        case "replace":
            let bound = try args.bind(name, ["old", "new", "count"], required: 2)
            let count = try bound[2].orNone.map { try intParameter($0, -1) } ?? -1
            return .string(
                try PyText.replace(
                    value.pyStr, (bound[0] ?? .none).pyStr, (bound[1] ?? .none).pyStr, count: count,
                    limit: limits.maxOutputBytes))
        case "round":
            let bound = try args.bind(name, ["precision", "method"])
            return try roundFilter(value, precision: try intParameter(bound[0], 0), method: bound[1]?.pyStr ?? "common")
        case "safe":
            try args.none(name)
            if case .markup = value { return value }
            return .markup(value.pyStr)
        case "string":
            try args.none(name)
            if case .markup = value { return value }
            return .string(value.pyStr)
        case "striptags": try args.none(name); return .string(PyText.stripTags(value.pyStr))
        case "trim":
            let bound = try args.bind(name, ["chars"])
            let chars: String? = bound[0].orNone.map { $0.pyStr }
            return .string(PyText.strip(value.pyStr, chars: chars))
        case "truncate":
            let bound = try args.bind(name, ["length", "killwords", "end", "leeway"])
            return try truncate(
                value, length: try intParameter(bound[0], 255), killwords: bound[1]?.isTruthy ?? false,
                end: bound[2]?.pyStr ?? "...", leeway: try intParameter(bound[3].orNone, 5))
        case "urlencode": try args.none(name); return .string(try urlEncode(value))
        case "wordcount":
            try args.none(name)
            var count = 0
            var inWord = false
            for c in value.pyStr.unicodeScalars {
                let word = PyText.isWordChar(c)
                if word && !inWord { count += 1 }
                inWord = word
            }
            return .int(count)
        case "xmlattr":
            let bound = try args.bind(name, ["autospace"])
            return .string(try xmlAttributes(value, autospace: bound[0]?.isTruthy ?? true))
        case "tojson":
            let bound = try args.bind(name, ["ensure_ascii", "indent", "separators", "sort_keys"])
            return .string(try toJSON(value, bound))
        case "urlize", "wordwrap":
            throw TemplateError.runtime("the '\(name)' filter is not supported")
        default:
            throw TemplateError.runtime("No filter named '\(name)'.")
        }
    }

    // MARK: helpers

    func intParameter(_ v: Value?, _ fallback: Int) throws -> Int {
        guard let v else { return fallback }
        guard let i = v.intValue else {
            throw TemplateError.runtime("'\(v.typeName)' object cannot be interpreted as an integer")
        }
        return i
    }

    /// Python `float(x)`, or nil where it raises TypeError / ValueError.
    func toFloat(_ value: Value) -> Value? {
        switch value {
        case .float: return value
        case .int, .bool: return .float(Double(value.intValue ?? 0))
        case .string(let s), .markup(let s): return PyNumber.parseFloat(s).map { .float($0) }
        default: return nil
        }
    }

    /// jinja2's `int` filter conversion, or nil for the default.
    private func toInt(_ value: Value, base: Int) throws -> Value? {
        switch value {
        case .undefined(let u): throw u.error
        case .int, .bool: return .int(value.intValue ?? 0)
        case .float(let d):
            guard d.isFinite else { throw TemplateError.runtime("cannot convert float \(PyNumber.repr(d)) to integer") }
            guard let i = Int(exactly: d.rounded(.towardZero)) else { throw TemplateError.runtime("integer overflow") }
            return .int(i)
        case .string(let s), .markup(let s):
            if let i = PyNumber.parseInt(s, base: base) { return .int(i) }
            if let d = PyNumber.parseFloat(s), d.isFinite, let i = Int(exactly: d.rounded(.towardZero)) {
                return .int(i)
            }
            return nil
        default:
            return nil
        }
    }

    private func indent(_ value: Value, width: Value, first: Bool, blank: Bool) throws -> Value {
        guard let text = value.stringValue else {
            throw TemplateError.runtime("unsupported operand type(s) for +=: '\(value.typeName)' and 'str'")
        }
        var indention = ""
        if let text = width.stringValue {
            indention = text
        } else {
            let count = max(0, try intParameter(width, 4))
            try PyText.checkWidth(count)
            indention = String(repeating: " ", count: count)
        }
        let lines = PyText.splitlines(text + "\n")
        let (grown, overflow) = lines.count.multipliedReportingOverflow(by: indention.utf8.count)
        if overflow || grown > limits.maxOutputBytes - text.utf8.count {
            throw TemplateError.limit("indented text exceeds the output size limit")
        }
        var result: String
        if blank {
            result = lines.joined(separator: "\n" + indention)
        } else {
            result = lines.first ?? ""
            let rest = lines.dropFirst()
            if !rest.isEmpty {
                result += "\n" + rest.map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n")
            }
        }
        if first { result = indention + result }
        if case .markup = value { return .markup(result) }
        return .string(result)
    }

    /// jinja2's `title` filter: capitalise the first letter of each word split at `[-\s({\[<]+`.
    private func titleFilter(_ s: String) -> String {
        var out = ""
        var word = ""
        var separator = ""
        func flush() {
            if let first = word.unicodeScalars.first {
                out += PyText.upper(String(first)) + PyText.lower(String(word.unicodeScalars.dropFirst()))
            }
            word = ""
        }
        for c in s.unicodeScalars {
            if PyText.isSpace(c) || "-({[<".unicodeScalars.contains(c) {
                flush()
                separator.unicodeScalars.append(c)
            } else {
                if !separator.isEmpty {
                    out +=
                        PyText.upper(String(separator.unicodeScalars.first!))
                        + PyText.lower(String(separator.unicodeScalars.dropFirst()))
                    separator = ""
                }
                word.unicodeScalars.append(c)
            }
        }
        flush()
        if !separator.isEmpty {
            out +=
                PyText.upper(String(separator.unicodeScalars.first!))
                + PyText.lower(String(separator.unicodeScalars.dropFirst()))
        }
        return out
    }

    private func roundFilter(_ value: Value, precision: Int, method: String) throws -> Value {
        guard ["common", "ceil", "floor"].contains(method) else {
            throw TemplateError.runtime("method must be common, ceil or floor")
        }
        guard let number = value.number else {
            throw TemplateError.runtime("type \(value.typeName) doesn't define __round__ method")
        }
        if method == "common" {
            switch number {
            case .int(let i):
                guard precision < 0 else { return .int(i) }
                var scale = 1
                for _ in 0..<min(-precision, 19) { scale = scale.multipliedReportingOverflow(by: 10).partialValue }
                if -precision > 18 { return .int(0) }
                let (q, r) = (i / scale, i % scale)
                var rounded = q
                let twice = abs(r) * 2
                if twice > scale || (twice == scale && q % 2 != 0) { rounded += i < 0 ? -1 : 1 }
                return .int(rounded * scale)
            case .float(let d):
                return .float(PyNumber.round(d, digits: precision))
            }
        }
        let scale = Foundationless.power(10, Double(precision))
        let scaled = number.double * scale
        return .float((method == "ceil" ? ceil(scaled) : floor(scaled)) / scale)
    }

    private func truncate(_ value: Value, length: Int, killwords: Bool, end: String, leeway: Int) throws -> Value {
        let endLength = PyText.length(end)
        guard length >= endLength else { throw TemplateError.runtime("expected length >= \(endLength), got \(length)") }
        guard leeway >= 0 else { throw TemplateError.runtime("expected leeway >= 0, got \(leeway)") }
        // Any sized value that is short enough comes back unchanged, as in jinja2.
        if try self.length(value) <= length + leeway { return value }
        guard let s = value.stringValue else {
            throw TemplateError.runtime("can only truncate strings, not \(value.typeName)")
        }
        let chars = Array(s.unicodeScalars)
        let head = PyText.string(chars.prefix(max(0, length - endLength)))
        if killwords { return .string(head + end) }
        return .string((try PyText.rsplit(head, separator: " ", maxsplit: 1).first ?? "") + end)
    }

    private func fileSize(_ value: Value, binary: Bool) throws -> String {
        guard case .float(let bytes)? = toFloat(value) else {
            throw TemplateError.runtime("could not convert \(value.typeName) to float")
        }
        let base = binary ? 1024.0 : 1000.0
        let prefixes =
            binary
            ? ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
            : ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
        if bytes == 1 { return "1 Byte" }
        if bytes < base { return "\(Int(bytes)) Bytes" }
        var unit = base
        for (i, prefix) in prefixes.enumerated() {
            unit = Foundationless.power(base, Double(i + 2))
            if bytes < unit || i == prefixes.count - 1 {
                return PyNumber.printf("%.1f", base * bytes / unit) + " " + prefix
            }
        }
        return ""
    }

    private func urlEncode(_ value: Value) throws -> String {
        func quote(_ v: Value, forQuery: Bool) -> String {
            let safe: Set<UInt8> = forQuery ? [] : [UInt8(ascii: "/")]
            var out = ""
            for byte in v.pyStr.utf8 {
                let c = Character(Unicode.Scalar(byte))
                if (byte < 0x80 && (c.isLetter || c.isNumber || "_.-~".contains(c))) || safe.contains(byte) {
                    out.append(c)
                } else {
                    out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
                }
            }
            return forQuery ? out.replacingSpaceEscapes() : out
        }
        switch value {
        case .string, .markup, .int, .float, .bool, .none, .undefined:
            return quote(value, forQuery: false)
        case .dict(let d):
            return zip(d.keys, d.values).map { quote($0, forQuery: true) + "=" + quote($1, forQuery: true) }
                .joined(separator: "&")
        default:
            return try iterate(value).map { pair -> String in
                let kv = try iterate(pair)
                guard kv.count == 2 else { throw TemplateError.runtime("expected key/value pairs") }
                return quote(kv[0], forQuery: true) + "=" + quote(kv[1], forQuery: true)
            }.joined(separator: "&")
        }
    }

    private func xmlAttributes(_ value: Value, autospace: Bool) throws -> String {
        guard case .dict(let d) = value else { throw TemplateError.runtime("xmlattr requires a mapping") }
        var items: [String] = []
        for (key, item) in zip(d.keys, d.values) {
            if case .none = item { continue }
            if item.isUndefined { continue }
            let name = key.pyStr
            if name.unicodeScalars.contains(where: {
                ($0.isASCII && PyText.isSpace($0)) || "/>=".unicodeScalars.contains($0)
            }) {
                throw TemplateError.runtime("Invalid character in attribute name: \(PyText.repr(name))")
            }
            let escapedValue: String
            if case .markup(let m) = item { escapedValue = m } else { escapedValue = PyText.htmlEscape(item.pyStr) }
            items.append("\(PyText.htmlEscape(name))=\"\(escapedValue)\"")
        }
        let joined = items.joined(separator: " ")
        return autospace && !joined.isEmpty ? " " + joined : joined
    }

    /// `pprint.pformat` for values that fit on one line (dict keys sorted).
    private func prettyRepr(_ value: Value) -> String {
        switch value {
        case .dict(let d):
            let pairs = (try? stableSorted(d.items) { try Value.pyLess($0.0, $1.0) }) ?? d.items
            return "{" + pairs.map { "\(prettyRepr($0.0)): \(prettyRepr($0.1))" }.joined(separator: ", ") + "}"
        case .list(let items): return "[" + items.map(prettyRepr).joined(separator: ", ") + "]"
        case .tuple(let items):
            return items.count == 1
                ? "(\(prettyRepr(items[0])),)" : "(" + items.map(prettyRepr).joined(separator: ", ") + ")"
        default: return value.pyRepr
        }
    }

    /// transformers' `tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
    private func toJSON(_ value: Value, _ bound: [Value?]) throws -> String {
        var indent: String?
        switch bound[1] {
        case nil, .none?: indent = nil
        case .string(let s)?, .markup(let s)?: indent = s
        case let v?:
            guard let n = v.intValue else { throw TemplateError.runtime("indent must be an int or a string") }
            try PyText.checkWidth(n)
            indent = String(repeating: " ", count: max(0, n))
        }
        var separators: (String, String)?
        if let sep = bound[2].orNone {
            let parts = try iterate(sep)
            guard parts.count == 2, let a = parts[0].stringValue, let b = parts[1].stringValue else {
                throw TemplateError.runtime("separators must be a pair of strings")
            }
            separators = (a, b)
        }
        var encoder = PyJSON(
            ensureASCII: bound[0]?.isTruthy ?? false, indent: indent, separators: separators,
            sortKeys: bound[3]?.isTruthy ?? false)
        encoder.maxBytes = limits.maxOutputBytes
        return try encoder.dumps(value)
    }
}

extension String {
    fileprivate func replacingSpaceEscapes() -> String { (try? PyText.replace(self, "%20", "+")) ?? self }
}
