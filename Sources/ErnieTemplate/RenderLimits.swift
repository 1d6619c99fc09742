/// Bounds that keep a hostile template (or hostile data fed to a template) from exhausting the server.
public struct RenderLimits: Sendable, Equatable {
    /// Total bytes a render may produce, counting the text captured by macros and set blocks.
    public var maxOutputBytes: Int
    /// Evaluation steps (expressions, statements, loop iterations) per render.
    public var maxSteps: Int
    /// Nested macro / `caller()` / recursive-loop calls.
    public var maxCallDepth: Int
    /// Nesting of blocks and expressions in the template source.
    public var maxNesting: Int
    /// Nesting of values: context variables, and values a template stores in `namespace()` attributes (the only way
    /// a template can grow a value across loop iterations).
    public var maxValueDepth: Int

    public init(
        maxOutputBytes: Int = 64 << 20, maxSteps: Int = 5_000_000, maxCallDepth: Int = 200, maxNesting: Int = 200,
        maxValueDepth: Int = 1000
    ) {
        self.maxOutputBytes = maxOutputBytes
        self.maxSteps = maxSteps
        self.maxCallDepth = maxCallDepth
        self.maxNesting = maxNesting
        self.maxValueDepth = maxValueDepth
    }
}
