/// jinja2's compile-time optimizer: every expression that can be evaluated without the render context (no
/// variables, calls or context filters; `and` / `or` / `if` short-circuit) is replaced by its value when that value
/// is a plain literal, and a `{{ }}` whose whole expression is constant is printed at compile time. This matters
/// for semantics in one place: constant slices go through the sandbox's lenient `getitem` (a failing slice gives
/// Undefined), while slices evaluated at render time raise.
struct NotConstant: Error {}

struct ConstantFolder {
    let interpreter: Interpreter
    let scope = Scope(parent: nil)

    init(limits: RenderLimits, stackFloor: UInt) {
        interpreter = Interpreter(limits: limits, fixedTime: nil, stackFloor: stackFloor)
        interpreter.constantMode = true
    }

    static func fold(_ body: [Stmt], limits: RenderLimits, stackFloor: UInt) -> [Stmt] {
        ConstantFolder(limits: limits, stackFloor: stackFloor).fold(body)
    }

    private func constant(_ expr: Expr) -> Value? {
        try? interpreter.eval(expr, scope)
    }

    func fold(_ body: [Stmt]) -> [Stmt] { body.map(fold) }

    func fold(_ stmt: Stmt) -> Stmt {
        switch stmt {
        case .text, .breakLoop, .continueLoop: return stmt
        case .output(let e):
            let folded = fold(e)
            if let value = constant(folded) { return .text(value.pyStr) }
            return .output(folded)
        case .ifChain(let branches, let orElse):
            return .ifChain(branches.map { (fold($0.0), fold($0.1)) }, orElse: fold(orElse))
        case .forLoop(var loop):
            loop.iterable = fold(loop.iterable)
            loop.condition = loop.condition.map(fold)
            loop.body = fold(loop.body)
            loop.orElse = fold(loop.orElse)
            return .forLoop(loop)
        case .assign(let target, let e, let line): return .assign(target, fold(e), line: line)
        case .assignBlock(let target, let filter, let frame, let line):
            return .assignBlock(target, filter: filter.map(fold), body: fold(frame), line: line)
        case .macro(let m): return .macro(fold(m))
        case .callBlock(var c):
            c.call = fold(c.call)
            c.caller = fold(c.caller)
            return .callBlock(c)
        case .filterBlock(let filter, let frame, let line):
            return .filterBlock(fold(filter), body: fold(frame), line: line)
        case .with(let pairs, let frame, let line):
            return .with(pairs.map { ($0.0, fold($0.1)) }, body: fold(frame), line: line)
        case .scope(let frame): return .scope(fold(frame))
        }
    }

    private func fold(_ frame: FrameBody) -> FrameBody {
        var copy = frame
        copy.body = fold(frame.body)
        return copy
    }

    private func fold(_ m: MacroDefinition) -> MacroDefinition {
        var copy = m
        copy.defaults = m.defaults.map(fold)
        copy.body = fold(m.body)
        return copy
    }

    private func fold(_ args: CallArguments) -> CallArguments {
        CallArguments(
            positional: args.positional.map(fold), keyword: args.keyword.map { ($0.0, fold($0.1)) },
            starArgs: args.starArgs.map(fold), starKwargs: args.starKwargs.map(fold))
    }

    /// Folds children first, then this node when it evaluates to a plain literal.
    func fold(_ expr: Expr) -> Expr {
        var node = expr
        switch expr.kind {
        case .literal, .name: return expr
        case .list(let items): node.kind = .list(items.map(fold))
        case .tuple(let items): node.kind = .tuple(items.map(fold))
        case .dict(let pairs): node.kind = .dict(pairs.map { (fold($0.0), fold($0.1)) })
        case .getattr(let e, let name): node.kind = .getattr(fold(e), name)
        case .getitem(let e, let arg): node.kind = .getitem(fold(e), fold(arg))
        case .slice(let a, let b, let c):
            // A slice is not an expression jinja2 folds on its own; its parts are.
            node.kind = .slice(a.map(fold), b.map(fold), c.map(fold))
            return node
        case .negate(let e): node.kind = .negate(fold(e))
        case .plus(let e): node.kind = .plus(fold(e))
        case .not(let e): node.kind = .not(fold(e))
        case .binary(let op, let a, let b): node.kind = .binary(op, fold(a), fold(b))
        case .and(let a, let b): node.kind = .and(fold(a), fold(b))
        case .or(let a, let b): node.kind = .or(fold(a), fold(b))
        case .concat(let items): node.kind = .concat(items.map(fold))
        case .compare(let first, let rest): node.kind = .compare(fold(first), rest.map { ($0.0, fold($0.1)) })
        case .conditional(let test, let then, let otherwise):
            node.kind = .conditional(test: fold(test), then: fold(then), otherwise: otherwise.map(fold))
        case .call(let callee, let args): node.kind = .call(fold(callee), fold(args))
        case .filter(let operand, let name, let args): node.kind = .filter(operand.map(fold), name, fold(args))
        case .test(let operand, let name, let args): node.kind = .test(fold(operand), name, fold(args))
        }
        if let value = constant(node), let literal = Literal(value) {
            return Expr(.literal(literal), line: expr.line)
        }
        return node
    }
}

extension Literal {
    /// The literal for a value with a "safe repr" in jinja2's sense (what `Const.from_untrusted` accepts).
    init?(_ value: Value) {
        switch value {
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .float(let d): self = .float(d)
        case .string(let s): self = .string(s)
        case .markup(let s): self = .markup(s)
        case .list(let items):
            var out: [Literal] = []
            for item in items {
                guard let literal = Literal(item) else { return nil }
                out.append(literal)
            }
            self = .list(out)
        case .tuple(let items):
            var out: [Literal] = []
            for item in items {
                guard let literal = Literal(item) else { return nil }
                out.append(literal)
            }
            self = .tuple(out)
        case .dict(let d):
            var out: [(Literal, Literal)] = []
            for (k, v) in zip(d.keys, d.values) {
                guard let key = Literal(k), let item = Literal(v) else { return nil }
                out.append((key, item))
            }
            self = .dict(out)
        default:
            return nil
        }
    }
}

extension Value {
    init(_ literal: Literal) throws {
        switch literal {
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .float(let d): self = .float(d)
        case .string(let s): self = .string(s)
        case .markup(let s): self = .markup(s)
        case .list(let items): self = .list(try items.map(Value.init))
        case .tuple(let items): self = .tuple(try items.map(Value.init))
        case .dict(let pairs):
            var d = PyDict()
            for (k, v) in pairs { try d.set(try Value(k), try Value(v)) }
            self = .dict(d)
        }
    }
}
