/// A variable scope. jinja2's scoping is reproduced with a chain of scopes: the globals, the render context, the
/// template's top level, then one scope per macro call, per `for` iteration (assignments inside a loop body are not
/// visible after it, nor in the next iteration), per `with` / set-block / filter-block / call-block body.
final class Scope {
    private var variables: [String: Value] = [:]
    let parent: Scope?

    init(parent: Scope?) {
        self.parent = parent
    }

    func lookup(_ name: String) -> Value? {
        var scope: Scope? = self
        while let current = scope {
            if let value = current.variables[name] { return value }
            scope = current.parent
        }
        return nil
    }

    func set(_ name: String, _ value: Value) {
        variables[name] = value
    }
}
