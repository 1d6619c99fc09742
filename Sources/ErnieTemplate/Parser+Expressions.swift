/// Expressions, with jinja2's precedence: conditional < or < and < not < comparisons < `+ -` < `~` < `* / // %`
/// < `**` (left-associative) < unary minus/plus < postfix (`.x`, `[i]`, calls) and filters / tests.
extension Parser {
    mutating func parseExpression(withCondExpr: Bool = true) throws -> Expr {
        try enter()
        defer { leave() }
        return withCondExpr ? try parseCondExpr() : try parseOr()
    }

    private mutating func parseCondExpr() throws -> Expr {
        var line = current.line
        var expr = try parseOr()
        while skipName("if") {
            let test = try parseOr()
            let otherwise = skipName("else") ? try parseCondExpr() : nil
            expr = Expr(.conditional(test: test, then: expr, otherwise: otherwise), line: line)
            line = current.line
        }
        return expr
    }

    private mutating func parseOr() throws -> Expr {
        var line = current.line
        var left = try parseAnd()
        while skipName("or") {
            let right = try parseAnd()
            left = Expr(.or(left, right), line: line)
            line = current.line
        }
        return left
    }

    private mutating func parseAnd() throws -> Expr {
        var line = current.line
        var left = try parseNot()
        while skipName("and") {
            let right = try parseNot()
            left = Expr(.and(left, right), line: line)
            line = current.line
        }
        return left
    }

    private mutating func parseNot() throws -> Expr {
        if current.isName("not") {
            let line = next().line
            try enter()
            defer { leave() }
            return Expr(.not(try parseNot()), line: line)
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        let line = current.line
        let expr = try parseMath1()
        var ops: [(CompareOp, Expr)] = []
        while true {
            if current.kind == .op, let op = CompareOp(rawValue: current.value), op != .in, op != .notIn {
                next()
                ops.append((op, try parseMath1()))
            } else if skipName("in") {
                ops.append((.in, try parseMath1()))
            } else if current.isName("not") && look().isName("in") {
                next()
                next()
                ops.append((.notIn, try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? expr : Expr(.compare(expr, ops), line: line)
    }

    private mutating func parseMath1() throws -> Expr {
        var line = current.line
        var left = try parseConcat()
        while current.isOp("+") || current.isOp("-") {
            let op: BinaryOp = next().value == "+" ? .add : .sub
            let right = try parseConcat()
            left = Expr(.binary(op, left, right), line: line)
            line = current.line
        }
        return left
    }

    private mutating func parseConcat() throws -> Expr {
        let line = current.line
        var args = [try parseMath2()]
        while skipOp("~") { args.append(try parseMath2()) }
        return args.count == 1 ? args[0] : Expr(.concat(args), line: line)
    }

    private mutating func parseMath2() throws -> Expr {
        var line = current.line
        var left = try parsePow()
        while current.kind == .op, ["*", "/", "//", "%"].contains(current.value) {
            let op = BinaryOp(rawValue: next().value) ?? .mul
            let right = try parsePow()
            left = Expr(.binary(op, left, right), line: line)
            line = current.line
        }
        return left
    }

    private mutating func parsePow() throws -> Expr {
        var line = current.line
        var left = try parseUnary()
        while skipOp("**") {
            let right = try parseUnary()
            left = Expr(.binary(.pow, left, right), line: line)
            line = current.line
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        try enter()
        defer { leave() }
        let line = current.line
        var node: Expr
        if skipOp("-") {
            node = Expr(.negate(try parseUnary(withFilter: false)), line: line)
        } else if skipOp("+") {
            node = Expr(.plus(try parseUnary(withFilter: false)), line: line)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpr(node) }
        return node
    }

    mutating func parsePrimary() throws -> Expr {
        let token = current
        switch token.kind {
        case .name:
            next()
            switch token.value {
            case "true", "True": return Expr(.literal(.bool(true)), line: token.line)
            case "false", "False": return Expr(.literal(.bool(false)), line: token.line)
            case "none", "None": return Expr(.literal(.none), line: token.line)
            default: return Expr(.name(token.value), line: token.line)
            }
        case .string:
            next()
            var text = token.value
            while current.kind == .string { text += next().value }
            return Expr(.literal(.string(text)), line: token.line)
        case .integer:
            next()
            return Expr(.literal(.int(token.intValue)), line: token.line)
        case .float:
            next()
            return Expr(.literal(.float(token.floatValue)), line: token.line)
        case .op where token.value == "(":
            next()
            let node = try parseTuple(explicitParentheses: true)
            try expect(.op, ")")
            return node
        case .op where token.value == "[":
            return try parseList()
        case .op where token.value == "{":
            return try parseDict()
        default:
            throw fail("unexpected '\(token.description)'", line: token.line)
        }
    }

    /// jinja2's `parse_tuple`: an expression, or a tuple when commas separate several.
    mutating func parseTuple(
        simplified: Bool = false, withCondExpr: Bool = true, extraEndRules: [String] = [],
        explicitParentheses: Bool = false
    ) throws -> Expr {
        var line = current.line
        var args: [Expr] = []
        var isTuple = false
        while true {
            if !args.isEmpty { try expect(.op, ",") }
            if isTupleEnd(extraEndRules) { break }
            args.append(simplified ? try parsePrimary() : try parseExpression(withCondExpr: withCondExpr))
            if current.isOp(",") { isTuple = true } else { break }
            line = current.line
        }
        if !isTuple {
            if let first = args.first { return first }
            if !explicitParentheses { throw fail("Expected an expression, got '\(current.description)'") }
        }
        return Expr(.tuple(args), line: line)
    }

    private mutating func parseList() throws -> Expr {
        let line = try expect(.op, "[").line
        var items: [Expr] = []
        while !current.isOp("]") {
            if !items.isEmpty { try expect(.op, ",") }
            if current.isOp("]") { break }
            items.append(try parseExpression())
        }
        try expect(.op, "]")
        return Expr(.list(items), line: line)
    }

    private mutating func parseDict() throws -> Expr {
        let line = try expect(.op, "{").line
        var items: [(Expr, Expr)] = []
        while !current.isOp("}") {
            if !items.isEmpty { try expect(.op, ",") }
            if current.isOp("}") { break }
            let key = try parseExpression()
            try expect(.op, ":")
            items.append((key, try parseExpression()))
        }
        try expect(.op, "}")
        return Expr(.dict(items), line: line)
    }

    mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if current.isOp(".") || current.isOp("[") {
                node = try parseSubscript(node)
            } else if current.isOp("(") {
                node = try parseCall(node)
            } else {
                return node
            }
        }
    }

    private mutating func parseFilterExpr(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if current.isOp("|") {
                node = try parseFilter(node) ?? node
            } else if current.isName("is") {
                node = try parseTest(node)
            } else if current.isOp("(") {
                node = try parseCall(node)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ node: Expr) throws -> Expr {
        let token = next()
        if token.isOp(".") {
            let attribute = next()
            if attribute.kind == .name { return Expr(.getattr(node, attribute.value), line: token.line) }
            guard attribute.kind == .integer else { throw fail("expected name or number", line: attribute.line) }
            return Expr(
                .getitem(node, Expr(.literal(.int(attribute.intValue)), line: attribute.line)), line: token.line)
        }
        var args: [Expr] = []
        while !current.isOp("]") {
            if !args.isEmpty { try expect(.op, ",") }
            args.append(try parseSubscribed())
        }
        try expect(.op, "]")
        let argument = args.count == 1 ? args[0] : Expr(.tuple(args), line: token.line)
        return Expr(.getitem(node, argument), line: token.line)
    }

    private mutating func parseSubscribed() throws -> Expr {
        let line = current.line
        var parts: [Expr?] = []
        if skipOp(":") {
            parts = [nil]
        } else {
            let node = try parseExpression()
            if !current.isOp(":") { return node }
            next()
            parts = [node]
        }
        if current.isOp(":") || current.isOp("]") || current.isOp(",") {
            parts.append(nil)
        } else {
            parts.append(try parseExpression())
        }
        if skipOp(":") {
            parts.append(current.isOp("]") || current.isOp(",") ? nil : try parseExpression())
        } else {
            parts.append(nil)
        }
        return Expr(.slice(parts[0], parts[1], parts[2]), line: line)
    }

    mutating func parseCallArguments() throws -> CallArguments {
        let token = try expect(.op, "(")
        var args = CallArguments()
        var requireComma = false
        func ensure(_ ok: Bool) throws {
            if !ok { throw TemplateError.syntax("invalid syntax for function call expression", line: token.line) }
        }
        while !current.isOp(")") {
            if requireComma {
                try expect(.op, ",")
                if current.isOp(")") { break }
            }
            if skipOp("*") {
                try ensure(args.starArgs == nil && args.starKwargs == nil)
                args.starArgs = try parseExpression()
            } else if skipOp("**") {
                try ensure(args.starKwargs == nil)
                args.starKwargs = try parseExpression()
            } else if current.kind == .name && look().isOp("=") {
                try ensure(args.starKwargs == nil)
                let key = next().value
                next()
                args.keyword.append((key, try parseExpression()))
            } else {
                try ensure(args.starArgs == nil && args.starKwargs == nil && args.keyword.isEmpty)
                args.positional.append(try parseExpression())
            }
            requireComma = true
        }
        try expect(.op, ")")
        return args
    }

    private mutating func parseCall(_ node: Expr) throws -> Expr {
        let line = current.line
        return Expr(.call(node, try parseCallArguments()), line: line)
    }

    mutating func parseFilter(_ start: Expr?, startInline: Bool = false) throws -> Expr? {
        var node = start
        var inline = startInline
        while current.isOp("|") || inline {
            if !inline { next() }
            let token = try expect(.name)
            var name = token.value
            while skipOp(".") { name += "." + (try expect(.name).value) }
            let args = current.isOp("(") ? try parseCallArguments() : CallArguments()
            node = Expr(.filter(node, name, args), line: token.line)
            inline = false
        }
        return node
    }

    private mutating func parseTest(_ node: Expr) throws -> Expr {
        let token = next()
        let negated = skipName("not")
        var name = try expect(.name).value
        while skipOp(".") { name += "." + (try expect(.name).value) }
        var args = CallArguments()
        let c = current
        if c.isOp("(") {
            args = try parseCallArguments()
        } else if (c.kind == .name || c.kind == .string || c.kind == .integer || c.kind == .float
            || c.isOp("[") || c.isOp("{")) && !c.isName("else") && !c.isName("or") && !c.isName("and")
        {
            if c.isName("is") { throw fail("You cannot chain multiple tests with is") }
            args.positional = [try parsePostfix(try parsePrimary())]
        }
        let test = Expr(.test(node, name, args), line: token.line)
        return negated ? Expr(.not(test), line: token.line) : test
    }
}
