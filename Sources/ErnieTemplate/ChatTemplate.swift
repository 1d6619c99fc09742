/// A compiled Hugging Face chat template (a Jinja template rendered as jinja2 does with transformers' settings:
/// `trim_blocks`, `lstrip_blocks`, `tojson` without ASCII escaping, `raise_exception`).
///
/// The interpreter follows jinja2 3.1's `ImmutableSandboxedEnvironment` with the `loopcontrols` extension and
/// transformers' `{% generation %}` tag: Python value semantics (printing, truthiness, integer/float arithmetic,
/// string methods), jinja2's scoping (loop bodies and macros get their own scope; `namespace()` objects are shared),
/// and its undefined-value rules. Rendering runs on a thread with a large stack and is bounded by ``RenderLimits``.
public struct ChatTemplate: Sendable {
    /// The template text as given.
    public let source: String
    /// Bounds applied to every render.
    public var limits: RenderLimits
    let program: [Stmt]
    /// Names the template's top level starts with undefined (see `Shadows`).
    let topShadows: [String]

    /// Compiles `source`; throws a ``TemplateError`` of kind `.syntax` (with the line) for invalid templates and for
    /// unknown filters or tests outside `if` blocks, as jinja2 does at compile time.
    public init(source: String) throws {
        try self.init(source: source, limits: RenderLimits())
    }

    /// Compiles `source` with custom limits.
    public init(source: String, limits: RenderLimits) throws {
        self.source = source
        self.limits = limits
        let maxNesting = limits.maxNesting
        let limits = limits
        (program, topShadows) = try ChatTemplate.templateErrors {
            try BigStack.run { floor in
                let parsed = try Parser.parse(source, maxNesting: maxNesting, stackFloor: floor)
                try ASTWalker.checkNames(parsed)
                return Shadows.annotate(ConstantFolder.fold(parsed, limits: limits, stackFloor: floor))
            }
        }
    }

    /// Renders the template with the given variables (`messages`, `tools`, `add_generation_prompt`, the special token
    /// strings, and any `chat_template_kwargs`).
    public func render(_ context: [String: JinjaValue]) throws -> String {
        try render(context, currentTime: nil)
    }

    /// Renders with `strftime_now` reporting `currentTime` (seconds since 1970, formatted in local time) instead of
    /// the clock; `nil` uses the clock.
    public func render(_ context: [String: JinjaValue], currentTime: Double?) throws -> String {
        let program = program
        let shadows = topShadows
        let limits = limits
        return try ChatTemplate.templateErrors {
            try BigStack.run { floor in
                try Interpreter(limits: limits, fixedTime: currentTime, stackFloor: floor)
                    .render(program, shadows: shadows, context: context)
            }
        }
    }

    /// Everything thrown out of the public API is a `TemplateError`.
    private static func templateErrors<T>(_ body: () throws -> T) throws(TemplateError) -> T {
        do {
            return try body()
        } catch let error as TemplateError {
            throw error
        } catch {
            throw TemplateError(message: "internal error: \(error)", line: nil, kind: .runtime)
        }
    }
}
