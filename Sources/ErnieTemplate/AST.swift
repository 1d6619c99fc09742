/// The parsed template: jinja2's node types reduced to what rendering needs.

/// A literal constant (or a value jinja2's optimizer folded at compile time).
indirect enum Literal: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case markup(String)
    case list([Literal])
    case tuple([Literal])
    case dict([(Literal, Literal)])
}

enum CompareOp: String, Sendable {
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=", `in` = "in", notIn = "not in"
}

/// Arguments of a call, filter or test.
struct CallArguments: Sendable {
    var positional: [Expr] = []
    var keyword: [(String, Expr)] = []
    var starArgs: Expr?
    var starKwargs: Expr?
}

struct Expr: Sendable {
    indirect enum Kind: Sendable {
        case literal(Literal)
        case name(String)
        case list([Expr])
        case tuple([Expr])
        case dict([(Expr, Expr)])
        case getattr(Expr, String)
        case getitem(Expr, Expr)
        case slice(Expr?, Expr?, Expr?)
        case negate(Expr)
        case plus(Expr)
        case not(Expr)
        case binary(BinaryOp, Expr, Expr)
        case and(Expr, Expr)
        case or(Expr, Expr)
        case concat([Expr])
        case compare(Expr, [(CompareOp, Expr)])
        case conditional(test: Expr, then: Expr, otherwise: Expr?)
        case call(Expr, CallArguments)
        /// A filter; the operand is nil in `{% filter %}` blocks and `{% set x | f %}` (the body is filtered).
        case filter(Expr?, String, CallArguments)
        case test(Expr, String, CallArguments)
    }

    var kind: Kind
    var line: Int

    init(_ kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }
}

/// An assignment target: a name, `ns.attr`, or a (nested) tuple of targets.
indirect enum Target: Sendable {
    case name(String)
    case namespaceAttribute(String, String)
    case tuple([Target])
}

struct ForLoop: Sendable {
    var target: Target
    var iterable: Expr
    var condition: Expr?
    var body: [Stmt]
    var orElse: [Stmt]
    var recursive: Bool
    var line: Int
    /// Names jinja2 initialises to undefined at the start of each iteration / of the `else` block (see `Shadows`).
    var bodyShadows: [String] = []
    var elseShadows: [String] = []
}

/// Statements that run in a scope of their own.
struct FrameBody: Sendable {
    var body: [Stmt]
    /// Names jinja2 initialises to undefined when the scope is entered (see `Shadows`).
    var shadows: [String] = []
}

struct MacroDefinition: Sendable {
    var name: String
    var parameters: [String]
    /// Defaults for the last `defaults.count` parameters.
    var defaults: [Expr]
    var body: [Stmt]
    /// The body references `caller` / `varargs` / `kwargs`, so the macro accepts them (as jinja2 decides).
    var usesCaller: Bool
    var usesVarargs: Bool
    var usesKwargs: Bool
    var line: Int
    /// Names jinja2 initialises to undefined when the macro is called (see `Shadows`).
    var shadows: [String] = []
}

struct CallBlock: Sendable {
    var caller: MacroDefinition
    var call: Expr
    var line: Int
}

indirect enum Stmt: Sendable {
    case text(String)
    case output(Expr)
    case ifChain([(Expr, [Stmt])], orElse: [Stmt])
    case forLoop(ForLoop)
    case assign(Target, Expr, line: Int)
    case assignBlock(Target, filter: Expr?, body: FrameBody, line: Int)
    case macro(MacroDefinition)
    case callBlock(CallBlock)
    case filterBlock(Expr, body: FrameBody, line: Int)
    case with([(Target, Expr)], body: FrameBody, line: Int)
    case breakLoop(line: Int)
    case continueLoop(line: Int)
    /// `{% block %}`, `{% generation %}`: render the body in place, in a scope of its own.
    case scope(FrameBody)
}
