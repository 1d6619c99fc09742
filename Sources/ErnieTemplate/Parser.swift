/// A recursive-descent parser following jinja2's `Parser` (same grammar, precedence and error messages).
struct Parser {
    private(set) var tokens: [Token]
    private(set) var index = 0
    private var tagStack: [String] = []
    private var endTokenStack: [[String]] = []
    /// Number of enclosing `for` bodies within the current function (macro bodies start again at 0).
    var loopDepth = 0
    var nesting = 0
    let maxNesting: Int
    /// The lowest stack address the parser may use (see `BigStack`).
    let stackFloor: UInt

    init(tokens: [Token], maxNesting: Int, stackFloor: UInt) {
        self.tokens = tokens
        self.maxNesting = maxNesting
        self.stackFloor = stackFloor
    }

    static func parse(_ source: String, maxNesting: Int, stackFloor: UInt) throws -> [Stmt] {
        var lexer = Lexer(source)
        var parser = Parser(tokens: try lexer.tokenize(), maxNesting: maxNesting, stackFloor: stackFloor)
        return try parser.subparse(endTokens: nil)
    }

    // MARK: token stream

    var current: Token { tokens[index] }

    func look() -> Token { tokens[min(index + 1, tokens.count - 1)] }

    @discardableResult
    mutating func next() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    mutating func skipOp(_ symbol: String) -> Bool {
        guard current.isOp(symbol) else { return false }
        next()
        return true
    }

    mutating func skipName(_ word: String) -> Bool {
        guard current.isName(word) else { return false }
        next()
        return true
    }

    func fail(_ message: String, line: Int? = nil) -> TemplateError {
        .syntax(message, line: line ?? current.line)
    }

    private func describeExpected(_ kind: TokenKind, _ value: String?) -> String {
        if let value { return value }
        switch kind {
        case .name: return "name"
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        default: return Token(kind, "", line: 0).description
        }
    }

    /// jinja2's `TokenStream.expect`.
    @discardableResult
    mutating func expect(_ kind: TokenKind, _ value: String? = nil) throws -> Token {
        let token = current
        if token.kind == kind && (value == nil || token.value == value) { return next() }
        let expected = describeExpected(kind, value)
        if token.kind == .eof {
            throw fail("unexpected end of template, expected '\(expected)'.")
        }
        throw fail("expected token '\(expected)', got '\(token.description)'")
    }

    mutating func enter() throws {
        nesting += 1
        if nesting > maxNesting || BigStack.currentAddress() < stackFloor {
            throw fail("template nested too deeply (more than \(maxNesting) levels)")
        }
    }

    mutating func leave() { nesting -= 1 }

    // MARK: statements

    mutating func subparse(endTokens: [String]?) throws -> [Stmt] {
        if let endTokens { endTokenStack.append(endTokens) }
        defer { if endTokens != nil { endTokenStack.removeLast() } }
        var body: [Stmt] = []
        while current.kind != .eof {
            let token = current
            switch token.kind {
            case .data:
                body.append(.text(token.value))
                next()
            case .variableBegin:
                next()
                body.append(.output(try parseTuple(withCondExpr: true)))
                try expect(.variableEnd)
            case .blockBegin:
                next()
                if let endTokens, current.kind == .name, endTokens.contains(current.value) { return body }
                body.append(contentsOf: try parseStatement())
                try expect(.blockEnd)
            default:
                throw fail("internal parsing error")
            }
        }
        return body
    }

    private mutating func parseStatements(_ endTokens: [String], dropNeedle: Bool = false) throws -> [Stmt] {
        _ = skipOp(":")
        try expect(.blockEnd)
        let result = try subparse(endTokens: endTokens)
        if current.kind == .eof { throw failEOF(endTokens) }
        if dropNeedle { next() }
        return result
    }

    private func unknownTagMessage(_ name: String?, _ stack: [[String]], tags: ArraySlice<String>) -> String {
        var message = name.map { "Encountered unknown tag '\($0)'." } ?? "Unexpected end of template."
        if let looking = stack.last {
            let expected = Set(stack.flatMap { $0 })
            let alternatives = looking.map { "'\($0)'" }.joined(separator: " or ")
            if let name, expected.contains(name) {
                message +=
                    " You probably made a nesting mistake. Jinja is expecting this tag, but currently"
                    + " looking for \(alternatives)."
            } else {
                message += " Jinja was looking for the following tags: \(alternatives)."
            }
        }
        if let innermost = tags.last {
            message += " The innermost block that needs to be closed is '\(innermost)'."
        }
        return message
    }

    private func failEOF(_ endTokens: [String]) -> TemplateError {
        fail(unknownTagMessage(nil, endTokenStack + [endTokens], tags: tagStack[...]))
    }

    private mutating func parseStatement() throws -> [Stmt] {
        let token = current
        guard token.kind == .name else { throw fail("tag name expected", line: token.line) }
        try enter()
        defer { leave() }
        tagStack.append(token.value)
        defer { tagStack.removeLast() }
        switch token.value {
        case "for": return [try parseFor()]
        case "if": return [try parseIf()]
        case "set": return [try parseSet()]
        case "macro": return [try parseMacro()]
        case "call": return [try parseCallBlock()]
        case "filter": return [try parseFilterBlock()]
        case "with": return [try parseWith()]
        case "block": return [try parseBlock()]
        case "print":
            next()
            var outputs: [Stmt] = []
            while current.kind != .blockEnd {
                if !outputs.isEmpty { try expect(.op, ",") }
                outputs.append(.output(try parseExpression()))
            }
            return outputs
        case "break", "continue":
            next()
            guard loopDepth > 0 else { throw fail("'\(token.value)' outside loop", line: token.line) }
            return [token.value == "break" ? .breakLoop(line: token.line) : .continueLoop(line: token.line)]
        case "generation":
            next()
            let saved = loopDepth
            loopDepth = 0
            defer { loopDepth = saved }
            return [.scope(FrameBody(body: try parseStatements(["endgeneration"], dropNeedle: true)))]
        case "extends", "include", "import", "from", "autoescape":
            throw fail("the '\(token.value)' tag is not supported by this template engine", line: token.line)
        default:
            throw fail(
                unknownTagMessage(token.value, endTokenStack, tags: tagStack.dropLast()), line: token.line)
        }
    }

    private mutating func parseFor() throws -> Stmt {
        let line = try expect(.name, "for").line
        let target = try parseAssignTarget(extraEndRules: ["in"])
        try expect(.name, "in")
        let iterable = try parseTuple(withCondExpr: false, extraEndRules: ["recursive"])
        let condition = skipName("if") ? try parseExpression() : nil
        let recursive = skipName("recursive")
        loopDepth += 1
        let body = try parseStatements(["endfor", "else"])
        loopDepth -= 1
        var orElse: [Stmt] = []
        if next().value != "endfor" {
            orElse = try parseStatements(["endfor"], dropNeedle: true)
        }
        return .forLoop(
            ForLoop(
                target: target, iterable: iterable, condition: condition, body: body, orElse: orElse,
                recursive: recursive, line: line))
    }

    private mutating func parseIf() throws -> Stmt {
        try expect(.name, "if")
        var branches: [(Expr, [Stmt])] = []
        var orElse: [Stmt] = []
        while true {
            let test = try parseTuple(withCondExpr: false)
            let body = try parseStatements(["elif", "else", "endif"])
            branches.append((test, body))
            let token = next()
            if token.isName("elif") { continue }
            if token.isName("else") { orElse = try parseStatements(["endif"], dropNeedle: true) }
            break
        }
        return .ifChain(branches, orElse: orElse)
    }

    private mutating func parseSet() throws -> Stmt {
        let line = next().line
        let target = try parseAssignTarget(withNamespace: true)
        if skipOp("=") {
            return .assign(target, try parseTuple(), line: line)
        }
        let filter = try parseFilter(nil)
        let body = try parseStatements(["endset"], dropNeedle: true)
        return .assignBlock(target, filter: filter, body: FrameBody(body: body), line: line)
    }

    private mutating func parseSignature() throws -> ([String], [Expr]) {
        var parameters: [String] = []
        var defaults: [Expr] = []
        try expect(.op, "(")
        while !current.isOp(")") {
            if !parameters.isEmpty { try expect(.op, ",") }
            let name = try expect(.name).value
            if skipOp("=") {
                defaults.append(try parseExpression())
            } else if !defaults.isEmpty {
                throw fail("non-default argument follows default argument")
            }
            parameters.append(name)
        }
        try expect(.op, ")")
        return (parameters, defaults)
    }

    private mutating func parseFunctionBody(_ end: String) throws -> [Stmt] {
        let saved = loopDepth
        loopDepth = 0
        defer { loopDepth = saved }
        return try parseStatements([end], dropNeedle: true)
    }

    private static func makeMacro(
        name: String, parameters: [String], defaults: [Expr], body: [Stmt], line: Int
    ) -> MacroDefinition {
        let used = NameUsage.loads(in: body, among: ["caller", "varargs", "kwargs"])
        return MacroDefinition(
            name: name, parameters: parameters, defaults: defaults, body: body,
            usesCaller: used.contains("caller"), usesVarargs: used.contains("varargs"),
            usesKwargs: used.contains("kwargs"), line: line)
    }

    private mutating func parseMacro() throws -> Stmt {
        let line = next().line
        let name = try expect(.name).value
        let (parameters, defaults) = try parseSignature()
        let body = try parseFunctionBody("endmacro")
        return .macro(Parser.makeMacro(name: name, parameters: parameters, defaults: defaults, body: body, line: line))
    }

    private mutating func parseCallBlock() throws -> Stmt {
        let line = next().line
        var parameters: [String] = []
        var defaults: [Expr] = []
        if current.isOp("(") { (parameters, defaults) = try parseSignature() }
        let call = try parseExpression()
        guard case .call = call.kind else { throw fail("expected call", line: line) }
        let body = try parseFunctionBody("endcall")
        let caller = Parser.makeMacro(
            name: "caller", parameters: parameters, defaults: defaults, body: body, line: line)
        return .callBlock(CallBlock(caller: caller, call: call, line: line))
    }

    private mutating func parseFilterBlock() throws -> Stmt {
        let line = next().line
        guard let filter = try parseFilter(nil, startInline: true) else { throw fail("expected filter", line: line) }
        let body = try parseStatements(["endfilter"], dropNeedle: true)
        return .filterBlock(filter, body: FrameBody(body: body), line: line)
    }

    private mutating func parseWith() throws -> Stmt {
        let line = next().line
        var pairs: [(Target, Expr)] = []
        while current.kind != .blockEnd {
            if !pairs.isEmpty { try expect(.op, ",") }
            let target = try parseAssignTarget()
            try expect(.op, "=")
            pairs.append((target, try parseExpression()))
        }
        let body = try parseStatements(["endwith"], dropNeedle: true)
        return .with(pairs, body: FrameBody(body: body), line: line)
    }

    private mutating func parseBlock() throws -> Stmt {
        next()
        let name = try expect(.name).value
        _ = skipName("scoped")
        _ = skipName("required")
        if current.isOp("-") {
            throw fail(
                "Block names in Jinja have to be valid Python identifiers and may not contain hyphens, use an"
                    + " underscore instead.")
        }
        let body = try parseStatements(["endblock"], dropNeedle: true)
        _ = skipName(name)
        return .scope(FrameBody(body: body))
    }

    // MARK: assignment targets

    mutating func parseAssignTarget(extraEndRules: [String] = [], withNamespace: Bool = false) throws -> Target {
        var targets: [Target] = []
        var isTuple = false
        while true {
            if !targets.isEmpty { try expect(.op, ",") }
            if isTupleEnd(extraEndRules) { break }
            targets.append(try parseTargetPrimary(withNamespace: withNamespace))
            if current.isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let first = targets.first { return first }
            throw fail("Expected an expression, got '\(current.description)'")
        }
        return .tuple(targets)
    }

    private mutating func parseTargetPrimary(withNamespace: Bool) throws -> Target {
        let token = current
        if token.kind == .name, !["true", "false", "True", "False", "none", "None"].contains(token.value) {
            next()
            if withNamespace, current.isOp(".") {
                next()
                let attribute = try expect(.name).value
                return .namespaceAttribute(token.value, attribute)
            }
            return .name(token.value)
        }
        let expr = try parsePrimary()
        return try Parser.target(from: expr)
    }

    private static func target(from expr: Expr) throws -> Target {
        switch expr.kind {
        case .name(let name): return .name(name)
        case .tuple(let items): return .tuple(try items.map(target(from:)))
        case .literal: throw TemplateError.syntax("can't assign to 'const'", line: expr.line)
        case .list: throw TemplateError.syntax("can't assign to 'list'", line: expr.line)
        case .dict: throw TemplateError.syntax("can't assign to 'dict'", line: expr.line)
        default: throw TemplateError.syntax("can't assign to this expression", line: expr.line)
        }
    }

    func isTupleEnd(_ extraEndRules: [String]) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd: return true
        case .op: return current.value == ")"
        case .name: return extraEndRules.contains(current.value)
        default: return false
        }
    }
}
