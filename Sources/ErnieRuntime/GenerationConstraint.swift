public import ErnieModel

/// A constraint on what a request may generate (structured output: a JSON schema, a regex, a grammar). The engine
/// asks its matcher for the allowed tokens before each sampling step and feeds it every sampled token.
public protocol GenerationConstraint: Sendable {
    /// A matcher at the start of the output. `skipSpecialTokens` is the request's detokenizer setting.
    func makeMatcher(skipSpecialTokens: Bool) -> any ConstraintMatcher
}

/// The state of one request under a `GenerationConstraint`. Used on the engine thread only.
public protocol ConstraintMatcher {
    /// The tokens allowed next, end-of-output tokens excluded (the engine adds its stop tokens when
    /// `isAccepting`).
    func allowedTokens() throws -> TokenBitmask
    /// Whether the output may end here.
    var isAccepting: Bool { get }
    /// Whether any token may follow (false: only the end of the output can).
    var canContinue: Bool { get }
    /// Advances over a sampled token; false when the constraint does not allow it.
    mutating func accept(_ token: Int) throws -> Bool
}
