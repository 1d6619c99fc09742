#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#elseif canImport(Musl)
    import Musl
#endif

/// Binary arithmetic operators of the template language.
enum BinaryOp: String, Sendable {
    case add = "+", sub = "-", mul = "*", div = "/", floorDiv = "//", mod = "%", pow = "**"
}

/// Python arithmetic. `sizeLimit` bounds the result of string / list repetition.
extension Value {
    static func binary(_ op: BinaryOp, _ a: Value, _ b: Value, sizeLimit: Int) throws -> Value {
        if case .undefined(let u) = a { throw u.error }
        // `str % Undefined` is handled by str.__mod__ (Undefined prints as ""); other operators defer to the
        // Undefined operand, which raises.
        if case .undefined(let u) = b, !(op == .mod && a.stringValue != nil) { throw u.error }
        if let x = a.number, let y = b.number { return try numeric(op, x, y) }
        switch op {
        case .add:
            try checkConcatenation(a, b, sizeLimit: sizeLimit)
            switch (a, b) {
            case let (.string(x), .string(y)): return .string(x + y)
            case let (.markup(x), .markup(y)): return .markup(x + y)
            case let (.markup(x), .string(y)): return .markup(x + PyText.htmlEscape(y))
            case let (.string(x), .markup(y)): return .markup(PyText.htmlEscape(x) + y)
            case let (.list(x), .list(y)): return .list(x + y)
            case let (.tuple(x), .tuple(y)): return .tuple(x + y)
            default: break
            }
        case .mul:
            if let count = b.intValue, let result = try repeated(a, count, sizeLimit: sizeLimit) { return result }
            if let count = a.intValue, let result = try repeated(b, count, sizeLimit: sizeLimit) { return result }
        case .mod:
            if let format = a.stringValue {
                let text = try PyFormat.percent(format, b)
                if case .markup = a { return .markup(text) }
                return .string(text)
            }
        default:
            break
        }
        throw unsupported(op, a, b)
    }

    /// The largest list / tuple a template may build, in elements.
    static func maxElements(_ sizeLimit: Int) -> Int { sizeLimit / 16 }

    private static func checkConcatenation(_ a: Value, _ b: Value, sizeLimit: Int) throws {
        switch (a, b) {
        case let (.string(x), .string(y)), let (.markup(x), .markup(y)), let (.string(x), .markup(y)),
            let (.markup(x), .string(y)):
            if x.utf8.count > sizeLimit - y.utf8.count {
                throw TemplateError.limit("string exceeds the output size limit")
            }
        case let (.list(x), .list(y)), let (.tuple(x), .tuple(y)):
            if x.count > maxElements(sizeLimit) - y.count {
                throw TemplateError.limit("sequence exceeds the size limit")
            }
        default:
            break
        }
    }

    private static func unsupported(_ op: BinaryOp, _ a: Value, _ b: Value) -> TemplateError {
        if op == .add, case .string = a {
            return .runtime("can only concatenate str (not \"\(b.typeName)\") to str")
        }
        if op == .add, case .list = a {
            return .runtime("can only concatenate list (not \"\(b.typeName)\") to list")
        }
        return .runtime(
            "unsupported operand type(s) for \(op.rawValue): '\(a.typeName)' and '\(b.typeName)'")
    }

    private static func repeated(_ value: Value, _ count: Int, sizeLimit: Int) throws -> Value? {
        let n = max(0, count)
        switch value {
        case .string(let s), .markup(let s):
            guard n == 0 || s.utf8.count <= sizeLimit / n else {
                throw TemplateError.limit("string repetition exceeds the output size limit")
            }
            let text = String(repeating: s, count: n)
            if case .markup = value { return .markup(text) }
            return .string(text)
        case .list(let items), .tuple(let items):
            guard n == 0 || items.count <= maxElements(sizeLimit) / n else {
                throw TemplateError.limit("sequence repetition exceeds the size limit")
            }
            var out: [Value] = []
            out.reserveCapacity(items.count * n)
            for _ in 0..<n { out.append(contentsOf: items) }
            if case .tuple = value { return .tuple(out) }
            return .list(out)
        default:
            return nil
        }
    }

    private static func overflow() -> TemplateError {
        .runtime("integer overflow: results beyond 64-bit integers are not supported")
    }

    static func numeric(_ op: BinaryOp, _ a: Number, _ b: Number) throws -> Value {
        switch (a, b) {
        case let (.int(x), .int(y)):
            return try integer(op, x, y)
        default:
            let x = a.double
            let y = b.double
            return .float(try floating(op, x, y))
        }
    }

    private static func integer(_ op: BinaryOp, _ x: Int, _ y: Int) throws -> Value {
        switch op {
        case .add:
            let (r, o) = x.addingReportingOverflow(y)
            if o { throw overflow() }
            return .int(r)
        case .sub:
            let (r, o) = x.subtractingReportingOverflow(y)
            if o { throw overflow() }
            return .int(r)
        case .mul:
            let (r, o) = x.multipliedReportingOverflow(by: y)
            if o { throw overflow() }
            return .int(r)
        case .div:
            if y == 0 { throw TemplateError.runtime("division by zero") }
            return .float(Double(x) / Double(y))
        case .floorDiv:
            if y == 0 { throw TemplateError.runtime("integer division or modulo by zero") }
            if x == .min && y == -1 { throw overflow() }
            var q = x / y
            if x % y != 0 && ((x < 0) != (y < 0)) { q -= 1 }
            return .int(q)
        case .mod:
            if y == 0 { throw TemplateError.runtime("integer division or modulo by zero") }
            if y == -1 { return .int(0) }
            var r = x % y
            if r != 0 && ((r < 0) != (y < 0)) { r += y }
            return .int(r)
        case .pow:
            if y < 0 {
                if x == 0 { throw TemplateError.runtime("0.0 cannot be raised to a negative power") }
                return .float(Foundationless.power(Double(x), Double(y)))
            }
            var result = 1
            var base = x
            var e = y
            while e > 0 {
                if e & 1 == 1 {
                    let (r, o) = result.multipliedReportingOverflow(by: base)
                    if o { throw overflow() }
                    result = r
                }
                e >>= 1
                if e > 0 {
                    let (sq, o) = base.multipliedReportingOverflow(by: base)
                    if o { throw overflow() }
                    base = sq
                }
            }
            return .int(result)
        }
    }

    private static func floating(_ op: BinaryOp, _ x: Double, _ y: Double) throws -> Double {
        switch op {
        case .add: return x + y
        case .sub: return x - y
        case .mul: return x * y
        case .div:
            if y == 0 { throw TemplateError.runtime("float division by zero") }
            return x / y
        case .floorDiv:
            if y == 0 { throw TemplateError.runtime("float floor division by zero") }
            return floatDivMod(x, y).0
        case .mod:
            if y == 0 { throw TemplateError.runtime("float modulo") }
            return floatDivMod(x, y).1
        case .pow:
            if x == 0 && y < 0 { throw TemplateError.runtime("0.0 cannot be raised to a negative power") }
            if x < 0 && y.rounded() != y && y.isFinite {
                throw TemplateError.runtime("negative number raised to a fractional power (complex result)")
            }
            return Foundationless.power(x, y)
        }
    }

    /// CPython's `float.__divmod__`.
    static func floatDivMod(_ vx: Double, _ wx: Double) -> (Double, Double) {
        var mod = fmod(vx, wx)
        var div = (vx - mod) / wx
        if mod != 0 {
            if (wx < 0) != (mod < 0) {
                mod += wx
                div -= 1
            }
        } else {
            mod = copysign(0, wx)
        }
        var floorDiv: Double
        if div != 0 {
            floorDiv = floor(div)
            if div - floorDiv > 0.5 { floorDiv += 1 }
        } else {
            floorDiv = copysign(0, vx / wx)
        }
        return (floorDiv, mod)
    }

    /// Unary minus / plus.
    static func negate(_ v: Value, plus: Bool = false) throws -> Value {
        switch v {
        case .undefined(let u): throw u.error
        case .bool(let b): return .int(plus ? (b ? 1 : 0) : (b ? -1 : 0))
        case .int(let i):
            if plus { return .int(i) }
            if i == .min { throw overflow() }
            return .int(-i)
        case .float(let d): return .float(plus ? d : -d)
        default: throw TemplateError.runtime("bad operand type for unary \(plus ? "+" : "-"): '\(v.typeName)'")
        }
    }
}

extension Value.Number {
    var double: Double {
        switch self {
        case .int(let i): Double(i)
        case .float(let d): d
        }
    }
}

/// Libm's `pow`, reachable from types that define their own `pow` member.
enum Foundationless {
    static func power(_ x: Double, _ y: Double) -> Double { pow(x, y) }
}
