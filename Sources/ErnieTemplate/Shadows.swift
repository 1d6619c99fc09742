/// jinja2's compile-time symbol analysis (`idtracking`), reduced to what changes behaviour under a dynamic scope
/// chain: in each frame (the template, a loop iteration, a loop's `else`, a macro or caller body, a set / filter /
/// with / block body) a name whose first mention in that frame is an assignment — outside any `if` — and that no
/// enclosing frame mentions is bound to undefined when the frame is entered. Such names therefore hide a context
/// variable of the same name even before the assignment runs (e.g. `{% for m in x %}{{ y }}{% endfor %}{% set y =
/// 1 %}` prints nothing for `y` inside the loop even if `y` is passed in).
enum Shadows {
    /// How a frame first binds a name.
    private enum Binding {
        case parameter, resolve, alias, undefined
    }

    /// The symbols of one frame.
    private final class Symbols {
        var refs: [String: Binding] = [:]
        var stores: Set<String> = []
        let parent: Symbols?

        init(parent: Symbols?) { self.parent = parent }

        func copy() -> Symbols {
            let c = Symbols(parent: parent)
            c.refs = refs
            c.stores = stores
            return c
        }

        func hasRef(_ name: String) -> Bool {
            refs[name] != nil || (parent?.hasRef(name) ?? false)
        }

        func store(_ name: String) {
            stores.insert(name)
            guard refs[name] == nil else { return }
            refs[name] = parent?.hasRef(name) == true ? .alias : .undefined
        }

        func parameter(_ name: String) {
            stores.insert(name)
            refs[name] = .parameter
        }

        func load(_ name: String) {
            if !hasRef(name) { refs[name] = .resolve }
        }

        /// Merging the branches of an `if`: names first assigned inside a branch are looked up outside instead.
        func branchUpdate(_ branches: [Symbols]) {
            var branchStores = Set<String>()
            for b in branches { branchStores.formUnion(b.stores) }
            branchStores.subtract(stores)
            for b in branches {
                refs.merge(b.refs) { _, new in new }
                stores.formUnion(b.stores)
            }
            for name in branchStores {
                refs[name] = parent?.hasRef(name) == true ? .alias : .resolve
            }
        }

        var undefinedNames: [String] { refs.filter { $0.value == .undefined }.map(\.key).sorted() }
    }

    /// Annotates every frame of the template; returns the body and the names the top level starts with undefined.
    static func annotate(_ body: [Stmt]) -> ([Stmt], [String]) {
        let root = Symbols(parent: nil)
        var visitor = Visitor(symbols: root)
        for stmt in body { visitor.visit(stmt) }
        return (body.map { annotate($0, root) }, root.undefinedNames)
    }

    // MARK: annotation (recursing into nested frames with the enclosing frame's symbols as parent)

    private static func frame(_ parent: Symbols, _ fill: (inout Visitor) -> Void) -> Symbols {
        let symbols = Symbols(parent: parent)
        var visitor = Visitor(symbols: symbols)
        fill(&visitor)
        return symbols
    }

    private static func annotate(_ stmt: Stmt, _ symbols: Symbols) -> Stmt {
        switch stmt {
        case .text, .output, .assign, .breakLoop, .continueLoop:
            return stmt
        case .ifChain(let branches, let orElse):
            return .ifChain(
                branches.map { ($0.0, $0.1.map { annotate($0, symbols) }) },
                orElse: orElse.map { annotate($0, symbols) })
        case .forLoop(var loop):
            let body = frame(symbols) { v in
                v.visitTarget(loop.target, asParameter: true)
                for s in loop.body { v.visit(s) }
            }
            let orElse = frame(symbols) { v in for s in loop.orElse { v.visit(s) } }
            loop.bodyShadows = body.undefinedNames
            loop.elseShadows = orElse.undefinedNames
            loop.body = loop.body.map { annotate($0, body) }
            loop.orElse = loop.orElse.map { annotate($0, orElse) }
            return .forLoop(loop)
        case .assignBlock(let target, let filter, let block, let line):
            return .assignBlock(target, filter: filter, body: annotate(block, symbols) { _ in }, line: line)
        case .macro(let m):
            return .macro(annotate(m, symbols))
        case .callBlock(var c):
            c.caller = annotate(c.caller, symbols)
            return .callBlock(c)
        case .filterBlock(let filter, let block, let line):
            return .filterBlock(filter, body: annotate(block, symbols) { $0.visit(filter) }, line: line)
        case .with(let pairs, let block, let line):
            let annotated = annotate(
                block, symbols,
                before: { v in
                    for (target, _) in pairs { v.visitTarget(target, asParameter: false) }
                })
            return .with(pairs, body: annotated, line: line)
        case .scope(let block):
            return .scope(annotate(block, symbols) { _ in })
        }
    }

    /// A frame whose statements come first, then `after` (jinja2 visits a filter block's body before its filter).
    private static func annotate(
        _ block: FrameBody, _ parent: Symbols, before: (inout Visitor) -> Void = { _ in },
        after: (inout Visitor) -> Void
    ) -> FrameBody {
        let symbols = frame(parent) { v in
            before(&v)
            for s in block.body { v.visit(s) }
            after(&v)
        }
        return FrameBody(body: block.body.map { annotate($0, symbols) }, shadows: symbols.undefinedNames)
    }

    private static func annotate(_ block: FrameBody, _ parent: Symbols, before: (inout Visitor) -> Void) -> FrameBody {
        annotate(block, parent, before: before, after: { _ in })
    }

    private static func annotate(_ m: MacroDefinition, _ parent: Symbols) -> MacroDefinition {
        let symbols = frame(parent) { v in
            for p in m.parameters { v.symbols.parameter(p) }
            for d in m.defaults { v.visit(d) }
            for s in m.body { v.visit(s) }
        }
        var copy = m
        copy.shadows = symbols.undefinedNames.filter { !["caller", "varargs", "kwargs"].contains($0) }
        copy.body = m.body.map { annotate($0, symbols) }
        return copy
    }

    // MARK: the per-frame visitor (stops at nested frames, as jinja2's FrameSymbolVisitor does)

    private struct Visitor {
        var symbols: Symbols

        mutating func visitTarget(_ target: Target, asParameter: Bool) {
            switch target {
            case .name(let n): asParameter ? symbols.parameter(n) : symbols.store(n)
            case .namespaceAttribute(let n, _): symbols.load(n)
            case .tuple(let items): for t in items { visitTarget(t, asParameter: asParameter) }
            }
        }

        mutating func visit(_ expr: Expr) {
            ASTWalker.walk(expr, soft: false) { node, _ in
                if case .name(let n) = node.kind { symbols.load(n) }
            }
        }

        private mutating func visitBranch(_ original: Symbols, _ body: [Stmt]) -> Symbols {
            let copy = original.copy()
            symbols = copy
            for s in body { visit(s) }
            symbols = original
            return copy
        }

        mutating func visit(_ stmt: Stmt) {
            switch stmt {
            case .text, .breakLoop, .continueLoop:
                break
            case .output(let e):
                visit(e)
            case .ifChain(let branches, let orElse):
                guard let (firstTest, firstBody) = branches.first else { return }
                visit(firstTest)
                let original = symbols
                let body = visitBranch(original, firstBody)
                // The `elif`s are nested `if`s visited one after another in a single branch.
                let elifs = original.copy()
                symbols = elifs
                for (test, branchBody) in branches.dropFirst() {
                    visit(test)
                    let inner = symbols
                    let b = visitBranch(inner, branchBody)
                    let e1 = visitBranch(inner, [])
                    let e2 = visitBranch(inner, [])
                    inner.branchUpdate([b, e1, e2])
                }
                symbols = original
                let orElseSymbols = visitBranch(original, orElse)
                original.branchUpdate([body, elifs, orElseSymbols])
            case .forLoop(let loop):
                visit(loop.iterable)
            case .assign(let target, let e, _):
                visit(e)
                visitTarget(target, asParameter: false)
            case .assignBlock(let target, _, _, _):
                visitTarget(target, asParameter: false)
            case .macro(let m):
                symbols.store(m.name)
            case .callBlock(let c):
                visit(c.call)
            case .filterBlock(let filter, _, _):
                visit(filter)
            case .with(let pairs, _, _):
                for (_, e) in pairs { visit(e) }
            case .scope:
                break
            }
        }
    }
}
