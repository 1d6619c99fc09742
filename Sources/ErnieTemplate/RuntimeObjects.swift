/// The reference-type objects a template can create or receive: namespaces, cyclers, joiners, iterators, loop
/// contexts, macros and bound methods, plus the global functions.

/// `jinja2.utils.Namespace`.
final class Namespace {
    var attributes: PyDict
    init(_ attributes: PyDict) { self.attributes = attributes }
}

/// `jinja2.utils.Cycler`.
final class Cycler {
    let items: [Value]
    var position = 0
    init(_ items: [Value]) { self.items = items }
}

/// `jinja2.utils.Joiner`.
final class Joiner {
    let separator: String
    var used = false
    init(_ separator: String) { self.separator = separator }
}

/// A one-shot Python iterator (generator objects returned by `map`, `select`, `reverse`...): always truthy, has no
/// length, and yields its remaining items once.
final class PyIterator {
    let typeName: String
    private var items: [Value]
    private var position = 0

    init(typeName: String, items: [Value]) {
        self.typeName = typeName
        self.items = items
    }

    /// Takes all remaining items.
    func drain() -> [Value] {
        let rest = Array(items[position...])
        position = items.count
        return rest
    }

    /// The items not yet consumed (without consuming them).
    var remaining: ArraySlice<Value> { items[position...] }

    /// Takes the next item.
    func next() -> Value? {
        guard position < items.count else { return nil }
        defer { position += 1 }
        return items[position]
    }
}

/// The `loop` variable of a `for` block.
final class LoopContext {
    let items: [Value]
    var index0 = -1
    let depth0: Int
    let recursion: LoopRecursion?
    var lastChanged: [Value]?

    init(items: [Value], depth0: Int, recursion: LoopRecursion?) {
        self.items = items
        self.depth0 = depth0
        self.recursion = recursion
    }

    var length: Int { items.count }
    var isLast: Bool { index0 + 1 >= items.count }
}

/// What a `recursive` loop needs to render its body again for `loop(children)`.
struct LoopRecursion {
    let loop: ForLoop
    let scope: Scope
}

/// A macro (or the `caller` of a call block) bound to the scope it was defined in.
final class MacroValue {
    let definition: MacroDefinition
    /// Cleared when the render ends, breaking the scope -> macro -> scope reference cycle.
    var closure: Scope?
    init(definition: MacroDefinition, closure: Scope) {
        self.definition = definition
        self.closure = closure
    }
}

/// A method looked up on a value (`'a'.upper`, `d.items`, `loop.cycle`...), called later.
final class BoundMethod {
    let receiver: Value
    let name: String
    init(receiver: Value, name: String) {
        self.receiver = receiver
        self.name = name
    }
}

/// Functions in the template's global namespace.
enum Builtin: String, CaseIterable {
    case range, dict, namespace, cycler, joiner, lipsum
    case raiseException = "raise_exception"
    case strftimeNow = "strftime_now"
}

/// Something a template can call.
enum Callable {
    case macro(MacroValue)
    case builtin(Builtin)
    case method(BoundMethod)
}
