/// Control flow out of a statement list.
enum Flow {
    case normal
    case breakLoop
    case continueLoop
}

/// Executes a parsed template once. Not thread-safe; one instance per render.
final class Interpreter {
    let limits: RenderLimits
    /// Seconds since the epoch for `strftime_now`; nil means the current time.
    let fixedTime: Double?
    @exclusivity(unchecked) private var buffers: [String] = [""]
    @exclusivity(unchecked) private var bytesWritten = 0
    @exclusivity(unchecked) private var steps = 0
    var callDepth = 0
    /// The line being evaluated, for error messages.
    @exclusivity(unchecked) var currentLine = 1
    /// The input of a `{% filter %}` block / `{% set x | f %}` body while its filter chain is evaluated.
    var filterInput: Value?
    /// Set while the constant folder evaluates an expression at compile time: variables, calls and context
    /// filters are then not available (`NotConstant`), and failing slices give Undefined.
    var constantMode = false
    /// Objects that can take part in reference cycles; their references are dropped when the render ends.
    var namespaces: [Namespace] = []
    var macros: [MacroValue] = []
    var loops: [LoopContext] = []

    /// The lowest stack address the interpreter may use (see `BigStack`).
    let stackFloor: UInt

    init(limits: RenderLimits, fixedTime: Double?, stackFloor: UInt) {
        self.limits = limits
        self.fixedTime = fixedTime
        self.stackFloor = stackFloor
    }

    /// Renders `body` with the context variables on top of the global functions.
    func render(_ body: [Stmt], shadows: [String] = [], context: [String: JinjaValue]) throws -> String {
        let globals = Scope(parent: nil)
        for builtin in Builtin.allCases { globals.set(builtin.rawValue, .callable(.builtin(builtin))) }
        let contextScope = Scope(parent: globals)
        let top = enter(shadows, contextScope)
        defer {
            // Break reference cycles (scope -> macro -> scope, namespaces holding themselves...).
            for ns in namespaces { ns.attributes = PyDict() }
            for macro in macros { macro.closure = nil }
            for loop in loops { loop.lastChanged = nil }
            top.removeAll()
        }
        do {
            for (name, value) in context {
                if case .undefined = value {
                    contextScope.set(name, .undefined(Undefined(name: name)))
                } else {
                    contextScope.set(name, try Value(value, maxDepth: limits.maxValueDepth))
                }
            }
            _ = try exec(body, top)
        } catch var error as TemplateError {
            if error.line == nil && error.kind != .json { error.line = currentLine }
            throw error
        }
        return buffers[0]
    }

    /// A macro bound to `scope`, remembered so the cycle it forms with the scope can be broken at the end.
    func makeMacro(_ definition: MacroDefinition, _ scope: Scope) -> Value {
        let macro = MacroValue(definition: definition, closure: scope)
        macros.append(macro)
        return .callable(.macro(macro))
    }

    // MARK: output and limits

    func write(_ text: String) throws {
        bytesWritten += text.utf8.count
        if bytesWritten > limits.maxOutputBytes {
            throw TemplateError.limit("output exceeds the limit of \(limits.maxOutputBytes) bytes")
        }
        buffers[buffers.count - 1] += text
    }

    @inline(__always)
    func tick() throws {
        steps += 1
        if steps > limits.maxSteps {
            throw TemplateError.limit("template exceeded \(limits.maxSteps) evaluation steps")
        }
    }

    /// Stops recursion before the render thread's stack runs out.
    func checkStack() throws {
        if BigStack.currentAddress() < stackFloor {
            throw TemplateError.limit("template recursion too deep for the render stack")
        }
    }

    /// Runs `body` with output going to a fresh buffer; returns what it wrote.
    func capture(_ body: () throws -> Flow) throws -> (String, Flow) {
        buffers.append("")
        do {
            let flow = try body()
            return (buffers.removeLast(), flow)
        } catch {
            buffers.removeLast()
            throw error
        }
    }

    func enterCall() throws {
        callDepth += 1
        if callDepth > limits.maxCallDepth {
            throw TemplateError.limit("calls nested deeper than \(limits.maxCallDepth) levels (runaway recursion?)")
        }
    }

    func leaveCall() { callDepth -= 1 }

    // MARK: statements

    func exec(_ body: [Stmt], _ scope: Scope) throws -> Flow {
        for stmt in body {
            let flow = try exec(stmt, scope)
            if case .normal = flow { continue }
            return flow
        }
        return .normal
    }

    func exec(_ stmt: Stmt, _ scope: Scope) throws -> Flow {
        try tick()
        try checkStack()
        switch stmt {
        case .text(let text):
            try write(text)
        case .output(let expr):
            try write(try eval(expr, scope).pyStr)
        case .ifChain(let branches, let orElse):
            for (test, body) in branches where try eval(test, scope).isTruthy {
                return try exec(body, scope)
            }
            return try exec(orElse, scope)
        case .forLoop(let loop):
            return try execFor(loop, scope)
        case .assign(let target, let expr, let line):
            let value = try eval(expr, scope)
            currentLine = line
            try assign(target, value, scope)
        case .assignBlock(let target, let filter, let frame, let line):
            let (text, flow) = try capture { try exec(frame.body, enter(frame.shadows, scope)) }
            var value = Value.string(text)
            if let filter { value = try applyFilterChain(filter, input: value, scope) }
            currentLine = line
            try assign(target, value, scope)
            return flow
        case .macro(let definition):
            scope.set(definition.name, makeMacro(definition, scope))
        case .callBlock(let block):
            currentLine = block.line
            guard case .call(let callee, let argExprs) = block.call.kind else { return .normal }
            let function = try eval(callee, scope)
            var args = try evalArguments(argExprs, scope)
            args.keyword.append(("caller", makeMacro(block.caller, scope)))
            try write(try call(function, args).pyStr)
        case .filterBlock(let filter, let frame, _):
            let (text, flow) = try capture { try exec(frame.body, enter(frame.shadows, scope)) }
            try write(try applyFilterChain(filter, input: .string(text), scope).pyStr)
            return flow
        case .with(let pairs, let frame, let line):
            let values = try pairs.map { try eval($0.1, scope) }
            let inner = enter(frame.shadows, scope)
            currentLine = line
            for ((target, _), value) in zip(pairs, values) { try assign(target, value, inner) }
            return try exec(frame.body, inner)
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        case .scope(let frame):
            return try exec(frame.body, enter(frame.shadows, scope))
        }
        return .normal
    }

    /// A new scope under `parent` in which `shadows` start out undefined, as jinja2 initialises names that a frame
    /// assigns before reading them.
    func enter(_ shadows: [String], _ parent: Scope) -> Scope {
        let scope = Scope(parent: parent)
        for name in shadows { scope.set(name, .undefined(Undefined(name: name))) }
        return scope
    }

    /// Evaluates a filter chain whose innermost operand is the body text of a filter / set block.
    private func applyFilterChain(_ filter: Expr, input: Value, _ scope: Scope) throws -> Value {
        let saved = filterInput
        filterInput = input
        defer { filterInput = saved }
        return try eval(filter, scope)
    }

    func assign(_ target: Target, _ value: Value, _ scope: Scope) throws {
        switch target {
        case .name(let name):
            scope.set(name, value)
        case .namespaceAttribute(let name, let attribute):
            guard case .namespace(let ns)? = scope.lookup(name) else {
                throw TemplateError.runtime("cannot assign attribute on non-namespace object")
            }
            try checkDepth(value)
            ns.attributes.set(string: attribute, value)
        case .tuple(let targets):
            let items = try iterate(value)
            guard items.count == targets.count else {
                if items.count > targets.count {
                    throw TemplateError.runtime("too many values to unpack (expected \(targets.count))")
                }
                throw TemplateError.runtime(
                    "not enough values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope) }
        }
    }

    // MARK: loops

    private func execFor(_ loop: ForLoop, _ scope: Scope) throws -> Flow {
        let iterable = try eval(loop.iterable, scope)
        currentLine = loop.line
        let items = try loopItems(loop, iterable, scope)
        return try runLoop(loop, items: items, scope: scope, depth0: 0)
    }

    /// The items a loop visits: the iterable's items that pass the loop's `if` condition.
    func loopItems(_ loop: ForLoop, _ iterable: Value, _ scope: Scope) throws -> [Value] {
        let items = try iterate(iterable)
        guard let condition = loop.condition else { return items }
        return try items.filter { item in
            let test = Scope(parent: scope)
            try assign(loop.target, item, test)
            return try eval(condition, test).isTruthy
        }
    }

    func runLoop(_ loop: ForLoop, items: [Value], scope: Scope, depth0: Int) throws -> Flow {
        let context = LoopContext(
            items: items, depth0: depth0,
            recursion: loop.recursive ? LoopRecursion(loop: loop, scope: scope) : nil)
        loops.append(context)
        for (i, item) in items.enumerated() {
            try tick()
            context.index0 = i
            let iteration = enter(loop.bodyShadows, scope)
            iteration.set("loop", .loop(context))
            try assign(loop.target, item, iteration)
            if case .breakLoop = try exec(loop.body, iteration) { break }
        }
        if items.isEmpty {
            return try exec(loop.orElse, enter(loop.elseShadows, scope))
        }
        return .normal
    }

    /// `loop(children)` inside a `recursive` loop.
    func recurse(_ context: LoopContext, _ args: Arguments) throws -> Value {
        guard let recursion = context.recursion else {
            throw TemplateError.runtime("The loop must have the 'recursive' marker to be called recursively.")
        }
        let bound = try args.bind("loop", ["iterable"], required: 1)
        try enterCall()
        defer { leaveCall() }
        let items = try loopItems(recursion.loop, bound[0] ?? .none, recursion.scope)
        let (text, _) = try capture {
            try runLoop(recursion.loop, items: items, scope: recursion.scope, depth0: context.depth0 + 1)
        }
        return .string(text)
    }
}
