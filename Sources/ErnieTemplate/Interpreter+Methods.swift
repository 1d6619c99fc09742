/// Python methods callable from templates (`s.strip()`, `d.items()`, `loop.cycle(...)`...).
extension Interpreter {
    func callMethod(_ receiver: Value, _ name: String, _ args: Arguments) throws -> Value {
        switch receiver {
        case .string(let s): return try stringMethod(s, name, args, markup: false)
        case .markup(let s): return try stringMethod(s, name, args, markup: true)
        case .dict(let d): return try dictMethod(d, name, args)
        case .list(let items), .tuple(let items): return try sequenceMethod(receiver, items, name, args)
        case .loop(let loop):
            if name == "cycle" {
                guard args.keyword.isEmpty else { throw TemplateError.runtime("cycle() takes no keyword arguments") }
                guard !args.positional.isEmpty else { throw TemplateError.runtime("no items for cycling given") }
                return args.positional[loop.index0 % args.positional.count]
            }
            let values = args.positional
            if let last = loop.lastChanged, last.count == values.count,
                zip(last, values).allSatisfy({ $0.pyEquals($1) })
            {
                return .bool(false)
            }
            loop.lastChanged = values
            return .bool(true)
        case .cycler(let c):
            try args.none(name)
            if name == "reset" {
                c.position = 0
                return .none
            }
            let value = c.items[c.position]
            c.position = (c.position + 1) % c.items.count
            return value
        case .int, .bool:
            let i = receiver.intValue ?? 0
            try args.none(name)
            switch name {
            case "bit_length": return .int(Int.bitWidth - i.magnitude.leadingZeroBitCount)
            case "bit_count": return .int(i.magnitude.nonzeroBitCount)
            case "conjugate": return .int(i)
            case "as_integer_ratio": return .tuple([.int(i), .int(1)])
            default: break
            }
        case .float(let d):
            try args.none(name)
            switch name {
            case "is_integer": return .bool(d.isFinite && d.rounded() == d)
            case "conjugate": return .float(d)
            default: break
            }
        default:
            break
        }
        throw TemplateError.runtime("\(receiver.typeName).\(name)() is not supported")
    }

    // MARK: str

    private func stringArg(_ v: Value?, _ method: String) throws -> String? {
        guard let v = v.orNone else { return nil }
        guard let s = v.stringValue else {
            throw TemplateError.runtime("\(method)() argument must be str or None, not \(v.typeName)")
        }
        return s
    }

    private func intArg(_ v: Value?, _ method: String) throws -> Int? {
        guard let v = v.orNone else { return nil }
        guard let i = v.intValue else {
            throw TemplateError.runtime("'\(v.typeName)' object cannot be interpreted as an integer")
        }
        return i
    }

    private func stringMethod(_ s: String, _ name: String, _ args: Arguments, markup: Bool) throws -> Value {
        func wrap(_ text: String) -> Value { markup ? .markup(text) : .string(text) }
        switch name {
        case "strip", "lstrip", "rstrip":
            let bound = try args.bind(name, ["chars"])
            let chars = try stringArg(bound[0], name)
            return wrap(PyText.strip(s, chars: chars, left: name != "rstrip", right: name != "lstrip"))
        case "split", "rsplit":
            let bound = try args.bind(name, ["sep", "maxsplit"])
            let sep = try stringArg(bound[0], name)
            let maxsplit = try intArg(bound[1], name) ?? -1
            let parts: [String]
            if let sep {
                parts =
                    name == "split"
                    ? try PyText.split(s, separator: sep, maxsplit: maxsplit)
                    : try PyText.rsplit(s, separator: sep, maxsplit: maxsplit)
            } else {
                parts =
                    name == "split"
                    ? PyText.splitWhitespace(s, maxsplit: maxsplit) : PyText.rsplitWhitespace(s, maxsplit: maxsplit)
            }
            return .list(parts.map(wrap))
        case "splitlines":
            let bound = try args.bind(name, ["keepends"])
            return .list(PyText.splitlines(s, keepends: bound[0]?.isTruthy ?? false).map(wrap))
        case "startswith", "endswith":
            let bound = try args.bind(name, ["prefix", "start", "end"], required: 1)
            let candidates: [Value]
            if case .tuple(let items)? = bound[0] { candidates = items } else { candidates = [bound[0] ?? .none] }
            var text = s
            if bound[1].orNone != nil || bound[2].orNone != nil {
                let chars = Array(s.unicodeScalars)
                let (lo, hi) = PyText.clampRange(
                    length: chars.count, start: try intArg(bound[1], name), end: try intArg(bound[2], name))
                if lo > chars.count { return .bool(false) }
                text = lo <= hi ? PyText.string(chars[lo..<hi]) : ""
            }
            for candidate in candidates {
                guard let affix = candidate.stringValue else {
                    throw TemplateError.runtime(
                        "\(name) first arg must be str or a tuple of str, not \(candidate.typeName)")
                }
                if name == "startswith" ? PyText.hasPrefix(text, affix) : PyText.hasSuffix(text, affix) {
                    return .bool(true)
                }
            }
            return .bool(false)
        case "upper": try args.none(name); return wrap(PyText.upper(s))
        case "lower", "casefold": try args.none(name); return wrap(PyText.lower(s))
        case "title": try args.none(name); return wrap(PyText.title(s))
        case "capitalize": try args.none(name); return wrap(PyText.capitalize(s))
        case "swapcase": try args.none(name); return wrap(PyText.swapcase(s))
        case "replace":
            let bound = try args.bind(name, ["old", "new", "count"], required: 2)
            guard let old = bound[0]?.stringValue, let new = bound[1]?.stringValue else {
                throw TemplateError.runtime("replace() arguments must be str")
            }
            let count = try intArg(bound[2], name) ?? -1
            let replacement = markup ? PyText.htmlEscapeIfPlain(bound[1]) : new
            return wrap(try PyText.replace(s, old, replacement, count: count, limit: limits.maxOutputBytes))
        case "find", "rfind", "index", "rindex":
            let bound = try args.bind(name, ["sub", "start", "end"], required: 1)
            guard let sub = bound[0]?.stringValue else {
                throw TemplateError.runtime("must be str, not \(bound[0]?.typeName ?? "None")")
            }
            let position = PyText.find(
                s, sub, start: try intArg(bound[1], name), end: try intArg(bound[2], name),
                reverse: name.hasPrefix("r"))
            if position < 0 && name.hasSuffix("index") { throw TemplateError.runtime("substring not found") }
            return .int(position)
        case "count":
            let bound = try args.bind(name, ["sub", "start", "end"], required: 1)
            guard let sub = bound[0]?.stringValue else {
                throw TemplateError.runtime("must be str, not \(bound[0]?.typeName ?? "None")")
            }
            return .int(PyText.count(s, sub, start: try intArg(bound[1], name), end: try intArg(bound[2], name)))
        case "join":
            let bound = try args.bind(name, ["iterable"], required: 1)
            var parts: [String] = []
            for (i, item) in try iterate(bound[0] ?? .none).enumerated() {
                guard let text = item.stringValue else {
                    throw TemplateError.runtime("sequence item \(i): expected str instance, \(item.typeName) found")
                }
                parts.append(markup ? PyText.htmlEscapeIfPlain(item) : text)
            }
            return wrap(parts.joined(separator: s))
        case "removeprefix", "removesuffix":
            let bound = try args.bind(name, ["affix"], required: 1)
            guard let affix = bound[0]?.stringValue else {
                throw TemplateError.runtime("\(name)() argument must be str")
            }
            if name == "removeprefix", PyText.hasPrefix(s, affix) {
                return wrap(String(decoding: Array(s.utf8).dropFirst(affix.utf8.count), as: UTF8.self))
            }
            if name == "removesuffix", !affix.isEmpty, PyText.hasSuffix(s, affix) {
                return wrap(String(decoding: Array(s.utf8).dropLast(affix.utf8.count), as: UTF8.self))
            }
            return wrap(s)
        case "partition", "rpartition":
            let bound = try args.bind(name, ["sep"], required: 1)
            guard let sep = bound[0]?.stringValue else { throw TemplateError.runtime("must be str") }
            guard !sep.isEmpty else { throw TemplateError.runtime("empty separator") }
            let parts =
                name == "partition"
                ? try PyText.split(s, separator: sep, maxsplit: 1) : try PyText.rsplit(s, separator: sep, maxsplit: 1)
            if parts.count == 2 { return .tuple([wrap(parts[0]), wrap(sep), wrap(parts[1])]) }
            return name == "partition" ? .tuple([wrap(s), wrap(""), wrap("")]) : .tuple([wrap(""), wrap(""), wrap(s)])
        case "center", "ljust", "rjust":
            let bound = try args.bind(name, ["width", "fillchar"], required: 1)
            let width = try intArg(bound[0], name) ?? 0
            let fill = try stringArg(bound[1], name) ?? " "
            guard fill.unicodeScalars.count == 1, let f = fill.unicodeScalars.first else {
                throw TemplateError.runtime("The fill character must be exactly one character long")
            }
            return wrap(
                try PyText.pad(s, width: width, fill: f, align: name == "center" ? "^" : name == "ljust" ? "<" : ">"))
        case "zfill":
            let bound = try args.bind(name, ["width"], required: 1)
            let width = try intArg(bound[0], name) ?? 0
            var chars = Array(s.unicodeScalars)
            guard width > chars.count else { return wrap(s) }
            try PyText.checkWidth(width)
            let zeros = [Unicode.Scalar](repeating: "0", count: width - chars.count)
            let signed = chars.first == "+" || chars.first == "-"
            chars.insert(contentsOf: zeros, at: signed ? 1 : 0)
            return wrap(PyText.string(chars))
        case "isalnum", "isalpha", "isdigit", "isdecimal", "isnumeric", "isspace", "isascii", "isprintable":
            try args.none(name)
            let chars = s.unicodeScalars
            let test: (Unicode.Scalar) -> Bool
            switch name {
            case "isalnum": test = PyText.isAlnum
            case "isalpha": test = PyText.isAlpha
            case "isdigit": test = PyText.isDigit
            case "isdecimal": test = PyText.isDecimal
            case "isnumeric": test = PyText.isNumeric
            case "isspace": test = PyText.isSpace
            case "isascii": return .bool(chars.allSatisfy(\.isASCII))
            default: return .bool(chars.allSatisfy(PyText.isPrintable))
            }
            return .bool(!chars.isEmpty && chars.allSatisfy(test))
        case "islower": try args.none(name); return .bool(PyText.isLower(s))
        case "isupper": try args.none(name); return .bool(PyText.isUpper(s))
        case "istitle": try args.none(name); return .bool(!s.isEmpty && PyText.title(s) == s && PyText.isCasedAny(s))
        case "isidentifier":
            try args.none(name)
            guard let first = s.unicodeScalars.first else { return .bool(false) }
            return .bool((first == "_" || PyText.isAlpha(first)) && s.unicodeScalars.allSatisfy(PyText.isWordChar))
        case "expandtabs":
            let bound = try args.bind(name, ["tabsize"])
            let size = try intArg(bound[0], name) ?? 8
            try PyText.checkWidth(size)
            let tabs = s.unicodeScalars.filter { $0 == "\t" }.count
            let (grown, overflow) = tabs.multipliedReportingOverflow(by: max(size, 0))
            if overflow || grown > limits.maxOutputBytes - s.utf8.count {
                throw TemplateError.limit("string exceeds the output size limit")
            }
            var out = ""
            var column = 0
            for c in s.unicodeScalars {
                if c == "\t" {
                    let spaces = size > 0 ? size - column % size : 0
                    out += String(repeating: " ", count: spaces)
                    column += spaces
                } else {
                    out.unicodeScalars.append(c)
                    column = c == "\n" || c == "\r" ? 0 : column + 1
                }
            }
            return wrap(out)
        case "format", "format_map":
            var positional = args.positional
            var keywords = args.keyword
            if name == "format_map" {
                guard args.keyword.isEmpty, positional.count == 1, case .dict(let d) = positional[0] else {
                    throw TemplateError.runtime("format_map() takes exactly one mapping argument")
                }
                positional = []
                keywords = zip(d.keys, d.values).compactMap { k, v in k.stringValue.map { ($0, v) } }
            }
            return wrap(try formatString(s, positional, keywords))
        case "escape": try args.none(name); return .markup(markup ? s : PyText.htmlEscape(s))
        case "striptags": try args.none(name); return .string(PyText.stripTags(s))
        case "unescape": try args.none(name); return .string(PyText.htmlUnescape(s))
        default: break
        }
        throw TemplateError.runtime("str.\(name)() is not supported")
    }

    // MARK: dict, list, tuple

    private func dictMethod(_ d: PyDict, _ name: String, _ args: Arguments) throws -> Value {
        switch name {
        case "get":
            let bound = try args.bind("get", ["key", "default"], required: 1)
            return try d.get(bound[0] ?? .none) ?? bound[1] ?? .none
        case "items":
            try args.none(name)
            return .list(zip(d.keys, d.values).map { .tuple([$0, $1]) })
        case "keys":
            try args.none(name)
            return .list(d.keys)
        case "values":
            try args.none(name)
            return .list(d.values)
        case "copy":
            try args.none(name)
            return .dict(d)
        default:
            throw TemplateError.runtime("dict.\(name)() is not supported")
        }
    }

    private func sequenceMethod(_ receiver: Value, _ items: [Value], _ name: String, _ args: Arguments) throws -> Value
    {
        switch name {
        case "count":
            let bound = try args.bind("count", ["value"], required: 1)
            return .int(items.filter { $0.pyEquals(bound[0] ?? .none) }.count)
        case "index":
            let bound = try args.bind("index", ["value", "start", "stop"], required: 1)
            let (lo, hi) = PyText.clampRange(
                length: items.count, start: try intArg(bound[1], name), end: try intArg(bound[2], name))
            if lo < hi {
                for i in lo..<hi where items[i].pyEquals(bound[0] ?? .none) { return .int(i) }
            }
            throw TemplateError.runtime("\((bound[0] ?? .none).pyRepr) is not in \(receiver.typeName)")
        case "copy":
            try args.none(name)
            return receiver
        default:
            throw TemplateError.runtime("\(receiver.typeName).\(name)() is not supported")
        }
    }
}

extension PyText {
    /// `True` when the string has at least one cased character.
    static func isCasedAny(_ s: String) -> Bool { s.unicodeScalars.contains { $0.properties.isCased } }

    /// What a Markup method does with a plain-string argument: escape it (Markup arguments stay as they are).
    static func htmlEscapeIfPlain(_ v: Value?) -> String {
        switch v {
        case .markup(let s)?: s
        case .string(let s)?: htmlEscape(s)
        default: v?.pyStr ?? ""
        }
    }

    /// `markupsafe.Markup.striptags()`: drop comments and tags, collapse whitespace, unescape entities.
    static func stripTags(_ s: String) -> String {
        var text = s
        while let start = text.firstRange(of: "<!--"), let end = text[start.upperBound...].firstRange(of: "-->") {
            text.replaceSubrange(start.lowerBound..<end.upperBound, with: "")
        }
        var out = ""
        var inTag = false
        for c in text.unicodeScalars {
            if c == "<" {
                inTag = true
            } else if c == ">" && inTag {
                inTag = false
            } else if !inTag {
                out.unicodeScalars.append(c)
            }
        }
        return htmlUnescape(splitWhitespace(out, maxsplit: -1).joined(separator: " "))
    }

    /// Unescapes the common HTML entities (named ones markupsafe emits and numeric references).
    static func htmlUnescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        let named: [String: String] = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}"]
        var out = ""
        var chars = s.unicodeScalars[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            guard c == "&", let semicolon = chars.prefix(12).firstIndex(of: ";") else {
                out.unicodeScalars.append(c)
                continue
            }
            let entity = String(String.UnicodeScalarView(chars[..<semicolon]))
            var replacement: String?
            if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                replacement = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map(String.init)
            } else if entity.hasPrefix("#") {
                replacement = UInt32(entity.dropFirst()).flatMap(Unicode.Scalar.init).map(String.init)
            } else {
                replacement = named[entity]
            }
            if let replacement {
                out += replacement
                chars = chars[chars.index(after: semicolon)...]
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
