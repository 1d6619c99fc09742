/// A variable scope. jinja2's scoping is reproduced with a chain of scopes: the globals, the render context, the
/// template's top level, then one scope per macro call, per `for` iteration (assignments inside a loop body are not
/// visible after it, nor in the next iteration), per `with` / set-block / filter-block / call-block body.
///
/// Scopes are small (a loop iteration binds `loop` and its targets), so variables live in parallel arrays searched
/// linearly; a hash index is added once a scope grows large.
final class Scope {
    private var names: [String] = []
    private var values: [Value] = []
    private var index: [String: Int]?
    let parent: Scope?

    private static let indexThreshold = 12

    init(parent: Scope?) {
        self.parent = parent
    }

    private func slot(_ name: String) -> Int? {
        if let index { return index[name] }
        return names.firstIndex(of: name)
    }

    func lookup(_ name: String) -> Value? {
        var scope: Scope? = self
        while let current = scope {
            if let i = current.slot(name) { return current.values[i] }
            scope = current.parent
        }
        return nil
    }

    func set(_ name: String, _ value: Value) {
        if let i = slot(name) {
            values[i] = value
            return
        }
        names.append(name)
        values.append(value)
        if index != nil {
            index?[name] = names.count - 1
        } else if names.count > Scope.indexThreshold {
            index = Dictionary(uniqueKeysWithValues: zip(names, names.indices))
        }
    }

    /// The variables bound directly in this scope.
    var variables: [Value] { values }

    func removeAll() {
        names = []
        values = []
        index = nil
    }
}
