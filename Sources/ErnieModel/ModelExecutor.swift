/// What the runtime needs from a loaded model: one forward step plus sampling, on whichever device.
///
/// Used from the engine thread only.
public protocol ModelExecutor: AnyObject {
    var config: ModelConfig { get }
    /// The paged KV cache the executor allocated.
    var kvLayout: KVCacheLayout { get }
    /// Human-readable device description.
    var deviceDescription: String { get }
    /// Runs one forward step and answers `logits[i]` from the logits of token `logits[i].tokenIndex`.
    func execute(_ batch: ForwardBatch, logits: [LogitsRequest]) throws -> [TokenResult]
}
