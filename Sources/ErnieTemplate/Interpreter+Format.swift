/// `str.format` through jinja2's `SandboxedFormatter` (field lookups go through the sandboxed getattr / getitem).
extension Interpreter {
    func formatString(_ format: String, _ positional: [Value], _ keywords: [(String, Value)]) throws -> String {
        try formatString(format, positional, keywords, depth: 0, autoIndex: AutoIndex())
    }

    private final class AutoIndex {
        var next = 0
        var manual = false
    }

    private func formatString(
        _ format: String, _ positional: [Value], _ keywords: [(String, Value)], depth: Int, autoIndex: AutoIndex
    ) throws -> String {
        guard depth < 3 else { throw TemplateError.runtime("Max string recursion exceeded") }
        let c = PyText.scalars(format)
        var out = ""
        var i = 0
        while i < c.count {
            let ch = c[i]
            if ch == "{" {
                if i + 1 < c.count, c[i + 1] == "{" {
                    out += "{"
                    i += 2
                    continue
                }
                // Find the matching close brace (nested braces allowed in the spec).
                var level = 1
                var j = i + 1
                while j < c.count, level > 0 {
                    if c[j] == "{" { level += 1 }
                    if c[j] == "}" { level -= 1 }
                    j += 1
                }
                guard level == 0 else { throw TemplateError.runtime("expected '}' before end of string") }
                let field = Array(c[(i + 1)..<(j - 1)])
                out += try formatField(field, positional, keywords, depth: depth, autoIndex: autoIndex)
                i = j
            } else if ch == "}" {
                guard i + 1 < c.count, c[i + 1] == "}" else {
                    throw TemplateError.runtime("Single '}' encountered in format string")
                }
                out += "}"
                i += 2
            } else {
                out.unicodeScalars.append(ch)
                i += 1
            }
        }
        return out
    }

    private func formatField(
        _ field: [Unicode.Scalar], _ positional: [Value], _ keywords: [(String, Value)], depth: Int,
        autoIndex: AutoIndex
    ) throws -> String {
        // field_name[!conversion][:spec]
        var nameEnd = field.count
        var bracket = false
        for (k, ch) in field.enumerated() {
            if ch == "[" { bracket = true }
            if ch == "]" { bracket = false }
            if !bracket && (ch == "!" || ch == ":") {
                nameEnd = k
                break
            }
        }
        let name = Array(field[..<nameEnd])
        var conversion: Unicode.Scalar?
        var spec = ""
        var rest = Array(field[nameEnd...])
        if rest.first == "!" {
            guard rest.count >= 2 else {
                throw TemplateError.runtime("end of string while looking for conversion specifier")
            }
            conversion = rest[1]
            rest = Array(rest.dropFirst(2))
            if !rest.isEmpty && rest.first != ":" {
                throw TemplateError.runtime("expected ':' after conversion specifier")
            }
        }
        if rest.first == ":" {
            spec = try formatString(
                PyText.string(rest.dropFirst()), positional, keywords, depth: depth + 1, autoIndex: autoIndex)
        }
        // Resolve the first part of the field name.
        var k = 0
        while k < name.count, name[k] != ".", name[k] != "[" { k += 1 }
        let first = PyText.string(name[..<k])
        var value: Value
        if first.isEmpty {
            guard !autoIndex.manual else {
                throw TemplateError.runtime(
                    "cannot switch from manual field specification to automatic field numbering")
            }
            guard autoIndex.next < positional.count else {
                throw TemplateError.runtime(
                    "Replacement index \(autoIndex.next) out of range for positional args tuple")
            }
            value = positional[autoIndex.next]
            autoIndex.next += 1
        } else if let index = Int(first),
            first.unicodeScalars.allSatisfy({ $0.isASCII && $0.properties.numericType != nil })
        {
            autoIndex.manual = true
            guard index < positional.count else {
                throw TemplateError.runtime("Replacement index \(index) out of range for positional args tuple")
            }
            value = positional[index]
        } else {
            guard let found = keywords.last(where: { $0.0 == first }) else {
                throw TemplateError.runtime("KeyError: \(PyText.repr(first))")
            }
            value = found.1
        }
        // Attribute / index accessors.
        while k < name.count {
            if name[k] == "." {
                var e = k + 1
                while e < name.count, name[e] != ".", name[e] != "[" { e += 1 }
                value = try getattr(value, PyText.string(name[(k + 1)..<e]))
                k = e
            } else {
                var e = k + 1
                while e < name.count, name[e] != "]" { e += 1 }
                guard e < name.count else { throw TemplateError.runtime("Missing ']' in format string") }
                let key = PyText.string(name[(k + 1)..<e])
                let keyValue: Value = Int(key).map { .int($0) } ?? .string(key)
                value = try getitem(value, keyValue)
                k = e + 1
            }
        }
        switch conversion {
        case nil: break
        case "s": value = .string(value.pyStr)
        case "r", "a": value = .string(value.pyRepr)
        case let other?: throw TemplateError.runtime("Unknown conversion specifier \(other)")
        }
        return try PyFormat.format(value, spec: spec)
    }
}
