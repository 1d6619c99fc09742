/// A point of the residual stream that `ErnieForward` shows its `hiddenStateObserver` (layer-by-layer comparisons
/// against transformers' `output_hidden_states`).
///
/// transformers' `hidden_states` tuple of an ERNIE-4.5 model has `L + 1` entries: `[0]` is the embedding output,
/// `[i]` for `1 ≤ i < L` is the output of decoder layer `i − 1`, and `[L]` is the output of the last layer *after*
/// the final RMSNorm (transformers overwrites the last entry with `last_hidden_state`). So `embedding` is
/// `hidden_states[0]`, `layer(i)` is `hidden_states[i + 1]` for `i < L − 1`, `finalNorm` is `hidden_states[L]`, and
/// `layer(L − 1)` (the last layer's output before the final norm) is not in the tuple at all (a forward hook on the
/// last decoder layer sees it).
public enum HiddenStatePoint: Sendable, Hashable, CustomStringConvertible {
    /// The embedding output, before the first layer.
    case embedding
    /// The residual stream after decoder layer `i` (its attention and MLP/MoE outputs added), before any norm.
    case layer(Int)
    /// The final RMSNorm of the last layer's output (only for the rows that asked for logits).
    case finalNorm

    /// The name used in fixtures: `embedding`, `layer.<i>`, `final_norm`.
    public var name: String {
        switch self {
        case .embedding: "embedding"
        case let .layer(i): "layer.\(i)"
        case .finalNorm: "final_norm"
        }
    }

    public var description: String { name }

    /// Parses `name`; nil when it is none of the three forms.
    public init?(name: String) {
        switch name {
        case "embedding":
            self = .embedding
        case "final_norm":
            self = .finalNorm
        default:
            guard name.hasPrefix("layer."), let i = Int(name.dropFirst(6)), i >= 0 else { return nil }
            self = .layer(i)
        }
    }

    /// Every point of a model of `layers` layers, in the order the forward pass reaches them.
    public static func all(layers: Int) -> [HiddenStatePoint] {
        [.embedding] + (0..<max(layers, 0)).map { .layer($0) } + [.finalNorm]
    }
}

/// The hidden state of some tokens of a step at one point, copied to the host as Float.
public struct HiddenStateSnapshot: Sendable, Equatable {
    public var point: HiddenStatePoint
    /// The tokens (indices into the step's `ForwardBatch.tokens`) the rows belong to, in order.
    public var tokenIndices: [Int]
    /// Elements per row (the hidden size).
    public var columns: Int
    /// Row-major `[tokenIndices.count, columns]`.
    public var values: [Float]

    public init(point: HiddenStatePoint, tokenIndices: [Int], columns: Int, values: [Float]) {
        self.point = point
        self.tokenIndices = tokenIndices
        self.columns = columns
        self.values = values
    }

    /// The row of the step's token `token`, or nil when the snapshot does not hold it.
    public func row(token: Int) -> ArraySlice<Float>? {
        guard let r = tokenIndices.firstIndex(of: token), (r + 1) * columns <= values.count else { return nil }
        return values[(r * columns)..<((r + 1) * columns)]
    }
}

/// Sees every `HiddenStatePoint` of every step of an `ErnieForward` (set `ErnieForward.hiddenStateObserver`).
/// Observing copies each point to the host, so it is for inspection, not for serving.
public typealias HiddenStateObserver = (HiddenStateSnapshot) throws -> Void
