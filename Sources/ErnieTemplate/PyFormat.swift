/// Python's `str % args` and the format-spec mini-language used by `str.format`.
enum PyFormat {
    // MARK: printf-style

    /// `format % args`.
    static func percent(_ format: String, _ args: Value) throws -> String {
        var positional: [Value]
        var mapping: PyDict?
        switch args {
        case .tuple(let items): positional = items
        case .dict(let d):
            positional = [args]
            mapping = d
        default: positional = [args]
        }
        // Python only complains about unused arguments when the argument is not subscriptable by key
        // (`PyMapping_Check`): a list or dict given to a format without specifiers is fine.
        let lenientUnused: Bool
        switch args {
        case .dict, .list, .undefined: lenientUnused = true
        default: lenientUnused = false
        }
        let chars = PyText.scalars(format)
        var out = ""
        var i = 0
        var next = 0
        var usedMapping = false
        func takeArg() throws -> Value {
            guard next < positional.count else {
                throw TemplateError.runtime("not enough arguments for format string")
            }
            defer { next += 1 }
            return positional[next]
        }
        while i < chars.count {
            let c = chars[i]
            if c != "%" {
                out.unicodeScalars.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < chars.count else { throw TemplateError.runtime("incomplete format") }
            var keyed: Value?
            if chars[i] == "(" {
                guard let map = mapping else { throw TemplateError.runtime("format requires a mapping") }
                var depth = 1
                var j = i + 1
                while j < chars.count, depth > 0 {
                    if chars[j] == "(" { depth += 1 }
                    if chars[j] == ")" { depth -= 1 }
                    j += 1
                }
                guard depth == 0 else { throw TemplateError.runtime("incomplete format key") }
                let key = PyText.string(chars[(i + 1)..<(j - 1)])
                guard let value = map.get(string: key) else {
                    throw TemplateError.runtime("KeyError: \(PyText.repr(key))")
                }
                keyed = value
                usedMapping = true
                i = j
            }
            var flags = Set<Unicode.Scalar>()
            while i < chars.count, "-+ #0".unicodeScalars.contains(chars[i]) {
                flags.insert(chars[i])
                i += 1
            }
            var width: Int?
            if i < chars.count, chars[i] == "*" {
                width = try takeArg().intValue
                i += 1
            } else {
                var digits = ""
                while i < chars.count, chars[i].properties.numericType == .decimal, chars[i].isASCII {
                    digits.unicodeScalars.append(chars[i])
                    i += 1
                }
                if !digits.isEmpty { width = Int(digits) }
            }
            var precision: Int?
            if i < chars.count, chars[i] == "." {
                i += 1
                if i < chars.count, chars[i] == "*" {
                    precision = try takeArg().intValue
                    i += 1
                } else {
                    var digits = ""
                    while i < chars.count, chars[i].isASCII, chars[i].properties.numericType == .decimal {
                        digits.unicodeScalars.append(chars[i])
                        i += 1
                    }
                    precision = Int(digits) ?? 0
                }
            }
            try PyText.checkWidth(width ?? 0)
            try PyText.checkWidth(precision ?? 0)
            while i < chars.count, "hlL".unicodeScalars.contains(chars[i]) { i += 1 }
            guard i < chars.count else { throw TemplateError.runtime("incomplete format") }
            let type = chars[i]
            i += 1
            if type == "%" {
                out += "%"
                continue
            }
            let value = try keyed ?? takeArg()
            out += try percentOne(value, type: type, flags: flags, width: width, precision: precision)
        }
        if next < positional.count && !lenientUnused && !usedMapping {
            throw TemplateError.runtime("not all arguments converted during string formatting")
        }
        return out
    }

    private static func percentOne(
        _ value: Value, type: Unicode.Scalar, flags: Set<Unicode.Scalar>, width: Int?, precision: Int?
    ) throws -> String {
        let left = flags.contains("-")
        switch type {
        case "s", "r", "a":
            var text = type == "s" ? value.pyStr : value.pyRepr
            if let precision { text = String(text.unicodeScalars.prefix(precision).map(Character.init)) }
            return try pad(text, width: width, left: left, zero: false)
        case "d", "i", "u", "x", "X", "o":
            let integer: Int
            switch value {
            case .int, .bool: integer = value.intValue ?? 0
            case .float(let d):
                guard d.isFinite, let i = Int(exactly: d.rounded(.towardZero)) else {
                    throw TemplateError.runtime("cannot convert float to integer")
                }
                integer = i
            default:
                throw TemplateError.runtime("%\(type) format: a real number is required, not \(value.typeName)")
            }
            let radix = type == "x" || type == "X" ? 16 : type == "o" ? 8 : 10
            var digits = String(integer.magnitude, radix: radix, uppercase: type == "X")
            if let precision, digits.count < precision {
                digits = String(repeating: "0", count: precision - digits.count) + digits
            }
            var prefix = integer < 0 ? "-" : flags.contains("+") ? "+" : flags.contains(" ") ? " " : ""
            if flags.contains("#") && radix != 10 { prefix += radix == 16 ? (type == "X" ? "0X" : "0x") : "0o" }
            return padNumber(prefix: prefix, digits: digits, width: width, left: left, zero: flags.contains("0"))
        case "f", "F", "e", "E", "g", "G":
            guard let number = value.number else {
                throw TemplateError.runtime("must be real number, not \(value.typeName)")
            }
            var spec = "%"
            for f in "-+ #0".unicodeScalars where flags.contains(f) { spec.unicodeScalars.append(f) }
            if let width { spec += String(width) }
            spec += "." + String(precision ?? 6)
            spec.unicodeScalars.append(type)
            return PyNumber.printf(spec, number.double)
        case "c":
            if let i = value.intValue, let scalar = Unicode.Scalar(UInt32(clamping: max(0, i))) {
                return try pad(String(scalar), width: width, left: left, zero: false)
            }
            if let s = value.stringValue, s.unicodeScalars.count == 1 {
                return try pad(s, width: width, left: left, zero: false)
            }
            throw TemplateError.runtime("%c requires int or char")
        default:
            throw TemplateError.runtime("unsupported format character '\(type)'")
        }
    }

    private static func pad(_ text: String, width: Int?, left: Bool, zero: Bool) throws -> String {
        guard let width else { return text }
        return try PyText.pad(text, width: width, fill: " ", align: left ? "<" : ">")
    }

    private static func padNumber(prefix: String, digits: String, width: Int?, left: Bool, zero: Bool) -> String {
        let body = prefix + digits
        guard let width, width > body.count else { return body }
        if left { return body + String(repeating: " ", count: width - body.count) }
        if zero { return prefix + String(repeating: "0", count: width - body.count) + digits }
        return String(repeating: " ", count: width - body.count) + body
    }

    // MARK: format spec mini-language

    struct Spec {
        var fill: Unicode.Scalar = " "
        var align: Character?
        var sign: Character = "-"
        var alternate = false
        var zero = false
        var width: Int?
        var grouping: Character?
        var precision: Int?
        var type: Character?
    }

    static func parseSpec(_ text: String) throws -> Spec {
        var spec = Spec()
        var c = PyText.scalars(text)[...]
        func isAlign(_ s: Unicode.Scalar) -> Bool { "<>=^".unicodeScalars.contains(s) }
        if c.count >= 2, isAlign(c[c.startIndex + 1]) {
            spec.fill = c[c.startIndex]
            spec.align = Character(c[c.startIndex + 1])
            c = c.dropFirst(2)
        } else if let first = c.first, isAlign(first) {
            spec.align = Character(first)
            c = c.dropFirst()
        }
        if let first = c.first, "+- ".unicodeScalars.contains(first) {
            spec.sign = Character(first)
            c = c.dropFirst()
        }
        if c.first == "z" { c = c.dropFirst() }
        if c.first == "#" {
            spec.alternate = true
            c = c.dropFirst()
        }
        if c.first == "0" {
            spec.zero = true
            c = c.dropFirst()
        }
        var digits = ""
        while let first = c.first, first.isASCII, first.properties.numericType == .decimal {
            digits.unicodeScalars.append(first)
            c = c.dropFirst()
        }
        if !digits.isEmpty { spec.width = Int(digits) }
        if let first = c.first, first == "," || first == "_" {
            spec.grouping = Character(first)
            c = c.dropFirst()
        }
        if c.first == "." {
            c = c.dropFirst()
            var p = ""
            while let first = c.first, first.isASCII, first.properties.numericType == .decimal {
                p.unicodeScalars.append(first)
                c = c.dropFirst()
            }
            guard !p.isEmpty else { throw TemplateError.runtime("Format specifier missing precision") }
            spec.precision = Int(p)
        }
        if let first = c.first {
            spec.type = Character(first)
            c = c.dropFirst()
        }
        guard c.isEmpty else { throw TemplateError.runtime("Invalid format specifier '\(text)'") }
        try PyText.checkWidth(spec.width ?? 0)
        try PyText.checkWidth(spec.precision ?? 0)
        return spec
    }

    /// `format(value, spec)`.
    static func format(_ value: Value, spec text: String) throws -> String {
        if text.isEmpty { return value.pyStr }
        let spec = try parseSpec(text)
        switch value {
        case .string(let s), .markup(let s):
            guard spec.type == nil || spec.type == "s" else {
                throw TemplateError.runtime("Unknown format code '\(spec.type!)' for object of type 'str'")
            }
            var body = s
            if let precision = spec.precision { body = PyText.string(s.unicodeScalars.prefix(precision)) }
            return align(body, spec: spec, defaultAlign: "<")
        case .int, .bool:
            let i = value.intValue ?? 0
            if let type = spec.type, "eEfFgG%".contains(type) { return try formatFloat(Double(i), spec: spec) }
            guard spec.precision == nil else {
                throw TemplateError.runtime("Precision not allowed in integer format specifier")
            }
            let radix: Int
            switch spec.type {
            case nil, "d", "n": radix = 10
            case "x", "X": radix = 16
            case "o": radix = 8
            case "b": radix = 2
            case "c":
                guard let scalar = Unicode.Scalar(UInt32(clamping: max(0, i))) else {
                    throw TemplateError.runtime("%c arg not in range")
                }
                return align(String(scalar), spec: spec, defaultAlign: "<")
            default: throw TemplateError.runtime("Unknown format code '\(spec.type!)' for object of type 'int'")
            }
            var digits = String(i.magnitude, radix: radix, uppercase: spec.type == "X")
            if let g = spec.grouping { digits = group(digits, separator: g, every: radix == 10 ? 3 : 4) }
            var prefix = signPrefix(negative: i < 0, spec: spec)
            if spec.alternate {
                switch radix {
                case 16: prefix += spec.type == "X" ? "0X" : "0x"
                case 8: prefix += "0o"
                case 2: prefix += "0b"
                default: break
                }
            }
            return alignNumber(prefix: prefix, digits: digits, spec: spec)
        case .float(let d):
            return try formatFloat(d, spec: spec)
        default:
            throw TemplateError.runtime("unsupported format string passed to \(value.typeName).__format__")
        }
    }

    private static func formatFloat(_ d: Double, spec: Spec) throws -> String {
        var body: String
        let magnitude = abs(d)
        switch spec.type {
        case nil:
            if let precision = spec.precision {
                body = PyNumber.printf("%.\(max(precision, 1))g", magnitude)
                if !body.contains(".") && !body.contains("e") && !body.contains("n") && !body.contains("i") {
                    body += ".0"
                }
            } else {
                body = PyNumber.repr(magnitude)
            }
        case "f", "F", "e", "E", "g", "G":
            body = PyNumber.printf("%\(spec.alternate ? "#" : "").\(spec.precision ?? 6)\(spec.type!)", magnitude)
        case "%":
            body = PyNumber.printf("%.\(spec.precision ?? 6)f", magnitude * 100) + "%"
        case "n":
            body = PyNumber.printf("%.\(spec.precision ?? 6)g", magnitude)
        default:
            throw TemplateError.runtime("Unknown format code '\(spec.type!)' for object of type 'float'")
        }
        if let g = spec.grouping {
            let parts = body.split(separator: ".", maxSplits: 1)
            let intPart = String(parts[0])
            if intPart.allSatisfy(\.isNumber) {
                body = group(intPart, separator: g, every: 3) + (parts.count > 1 ? "." + parts[1] : "")
            }
        }
        return alignNumber(
            prefix: signPrefix(negative: d.sign == .minus && !d.isNaN, spec: spec), digits: body, spec: spec)
    }

    private static func signPrefix(negative: Bool, spec: Spec) -> String {
        if negative { return "-" }
        switch spec.sign {
        case "+": return "+"
        case " ": return " "
        default: return ""
        }
    }

    private static func group(_ digits: String, separator: Character, every: Int) -> String {
        var out = ""
        for (i, ch) in digits.reversed().enumerated() {
            if i > 0 && i % every == 0 { out.append(separator) }
            out.append(ch)
        }
        return String(out.reversed())
    }

    private static func alignNumber(prefix: String, digits: String, spec: Spec) -> String {
        let body = prefix + digits
        guard let width = spec.width, width > PyText.length(body) else { return body }
        let padding = width - PyText.length(body)
        let align = spec.align ?? (spec.zero ? "=" : ">")
        let fill = spec.align == nil && spec.zero ? "0" : String(spec.fill)
        if align == "=" { return prefix + String(repeating: fill, count: padding) + digits }
        var s = spec
        s.fill = fill.unicodeScalars.first ?? " "
        return align_(body, width: width, fill: s.fill, align: align)
    }

    private static func align(_ body: String, spec: Spec, defaultAlign: Character) -> String {
        guard let width = spec.width else { return body }
        let fill: Unicode.Scalar = spec.align == nil && spec.zero ? "0" : spec.fill
        return align_(body, width: width, fill: fill, align: spec.align ?? defaultAlign)
    }

    private static func align_(_ body: String, width: Int, fill: Unicode.Scalar, align: Character) -> String {
        let length = PyText.length(body)
        guard width > length else { return body }
        let total = width - length
        let f = String(fill)
        switch align {
        case "<": return body + String(repeating: f, count: total)
        case "^":
            let left = total / 2
            return String(repeating: f, count: left) + body + String(repeating: f, count: total - left)
        default: return String(repeating: f, count: total) + body
        }
    }
}
