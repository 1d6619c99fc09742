/// Static checks over the parsed template.
enum NameUsage {
    /// Which of `names` the statements load as variables (jinja2 decides from this whether a macro takes `caller`,
    /// extra positional arguments (`varargs`) or extra keyword arguments (`kwargs`)).
    static func loads(in body: [Stmt], among names: Set<String>) -> Set<String> {
        var found = Set<String>()
        ASTWalker.walk(body, soft: false) { expr, _ in
            if case .name(let name) = expr.kind, names.contains(name) { found.insert(name) }
        }
        return found
    }
}

enum ASTWalker {
    /// Visits every expression; `soft` is true inside `if` statements and inline `if` expressions, where jinja2
    /// defers "unknown filter / test" errors to run time.
    static func walk(_ body: [Stmt], soft: Bool, _ visit: (Expr, Bool) throws -> Void) rethrows {
        for stmt in body { try walk(stmt, soft: soft, visit) }
    }

    static func walk(_ stmt: Stmt, soft: Bool, _ visit: (Expr, Bool) throws -> Void) rethrows {
        switch stmt {
        case .text, .breakLoop, .continueLoop: break
        case .output(let e): try walk(e, soft: soft, visit)
        case .ifChain(let branches, let orElse):
            for (test, body) in branches {
                try walk(test, soft: true, visit)
                try walk(body, soft: true, visit)
            }
            try walk(orElse, soft: true, visit)
        case .forLoop(let loop):
            try walk(loop.iterable, soft: soft, visit)
            if let condition = loop.condition { try walk(condition, soft: false, visit) }
            try walk(loop.body, soft: false, visit)
            try walk(loop.orElse, soft: false, visit)
        case .assign(_, let e, _): try walk(e, soft: soft, visit)
        case .assignBlock(_, let filter, let frame, _):
            if let filter { try walk(filter, soft: soft, visit) }
            try walk(frame.body, soft: false, visit)
        case .macro(let m): try walkMacro(m, visit)
        case .callBlock(let c):
            try walk(c.call, soft: soft, visit)
            try walkMacro(c.caller, visit)
        case .filterBlock(let filter, let frame, _):
            try walk(filter, soft: soft, visit)
            try walk(frame.body, soft: false, visit)
        case .with(let pairs, let frame, _):
            for (_, e) in pairs { try walk(e, soft: soft, visit) }
            try walk(frame.body, soft: false, visit)
        case .scope(let frame): try walk(frame.body, soft: false, visit)
        }
    }

    private static func walkMacro(_ m: MacroDefinition, _ visit: (Expr, Bool) throws -> Void) rethrows {
        for d in m.defaults { try walk(d, soft: false, visit) }
        try walk(m.body, soft: false, visit)
    }

    private static func walk(_ args: CallArguments, soft: Bool, _ visit: (Expr, Bool) throws -> Void) rethrows {
        for e in args.positional { try walk(e, soft: soft, visit) }
        for (_, e) in args.keyword { try walk(e, soft: soft, visit) }
        if let e = args.starArgs { try walk(e, soft: soft, visit) }
        if let e = args.starKwargs { try walk(e, soft: soft, visit) }
    }

    static func walk(_ expr: Expr, soft: Bool, _ visit: (Expr, Bool) throws -> Void) rethrows {
        try visit(expr, soft)
        switch expr.kind {
        case .literal, .name: break
        case .list(let items), .tuple(let items), .concat(let items):
            for e in items { try walk(e, soft: soft, visit) }
        case .dict(let pairs):
            for (k, v) in pairs {
                try walk(k, soft: soft, visit)
                try walk(v, soft: soft, visit)
            }
        case .getattr(let e, _), .negate(let e), .plus(let e), .not(let e): try walk(e, soft: soft, visit)
        case .getitem(let a, let b), .binary(_, let a, let b), .and(let a, let b), .or(let a, let b):
            try walk(a, soft: soft, visit)
            try walk(b, soft: soft, visit)
        case .slice(let a, let b, let c):
            for e in [a, b, c].compactMap({ $0 }) { try walk(e, soft: soft, visit) }
        case .compare(let first, let rest):
            try walk(first, soft: soft, visit)
            for (_, e) in rest { try walk(e, soft: soft, visit) }
        case .conditional(let test, let then, let otherwise):
            try walk(test, soft: true, visit)
            try walk(then, soft: true, visit)
            if let otherwise { try walk(otherwise, soft: true, visit) }
        case .call(let callee, let args):
            try walk(callee, soft: soft, visit)
            try walk(args, soft: soft, visit)
        case .filter(let operand, _, let args):
            if let operand { try walk(operand, soft: soft, visit) }
            try walk(args, soft: soft, visit)
        case .test(let operand, _, let args):
            try walk(operand, soft: soft, visit)
            try walk(args, soft: soft, visit)
        }
    }

    /// Filters jinja2 cannot evaluate at compile time (they take the render context).
    static let contextFilters: Set<String> = ["map", "select", "reject", "selectattr", "rejectattr", "random"]

    /// jinja2's compile-time check: an unknown filter or test outside `if` blocks is a template error.
    static func checkNames(_ body: [Stmt]) throws {
        try walk(body, soft: false) { expr, soft in
            guard !soft else { return }
            switch expr.kind {
            case .filter(_, let name, _) where !Filters.known.contains(name):
                throw TemplateError.syntax("No filter named '\(name)'.", line: expr.line)
            case .test(_, let name, _) where !Tests.known.contains(name):
                throw TemplateError.syntax("No test named '\(name)'.", line: expr.line)
            default:
                break
            }
        }
    }
}
