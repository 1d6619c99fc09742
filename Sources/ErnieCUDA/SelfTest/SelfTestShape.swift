/// The model dimensions one group of self-test cases uses.
public struct SelfTestShape: Sendable {
    public var name: String
    public var hidden: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var vocab: Int
    public var denseIntermediate: Int
    public var experts: Int
    public var topK: Int
    public var moeIntermediate: Int
    public var sharedIntermediate: Int
    /// Token counts the per-token ops run with.
    public var tokenCounts: [Int]
    /// Length of the long sequence prefilled before the ragged attention steps.
    public var longContext: Int

    /// ERNIE-4.5-21B-A3B: hidden 2560, 20/4 heads of 128, 64 experts top-6 of width 1536, shared 3072, vocab 103424.
    public static let ernie21B = SelfTestShape(
        name: "ernie-21b", hidden: 2560, heads: 20, kvHeads: 4, headDim: 128, vocab: 103_424, denseIntermediate: 12288,
        experts: 64, topK: 6, moeIntermediate: 1536, sharedIntermediate: 3072, tokenCounts: [1, 7, 64],
        longContext: 1500
    )
    /// ERNIE-4.5-0.3B: hidden 1024, 16/2 heads of 128, dense 3072.
    public static let ernie03B = SelfTestShape(
        name: "ernie-0.3b", hidden: 1024, heads: 16, kvHeads: 2, headDim: 128, vocab: 103_424, denseIntermediate: 3072,
        experts: 0, topK: 0, moeIntermediate: 0, sharedIntermediate: 0, tokenCounts: [3, 33], longContext: 700
    )
    /// ERNIE-4.5-300B-A47B attention and expert geometry (hidden 8192, 64/8 heads, top-8 experts of width 3584);
    /// 16 experts instead of 64 and a small vocabulary keep the host reference affordable.
    public static let ernie300B = SelfTestShape(
        name: "ernie-300b", hidden: 8192, heads: 64, kvHeads: 8, headDim: 128, vocab: 4096, denseIntermediate: 4096,
        experts: 16, topK: 8, moeIntermediate: 3584, sharedIntermediate: 0, tokenCounts: [2, 16], longContext: 600
    )
    /// Small odd-ish shapes (head_dim 64, group 3, widths not multiples of 64) for the emulator and quick runs.
    public static let small = SelfTestShape(
        name: "small", hidden: 192, heads: 6, kvHeads: 2, headDim: 64, vocab: 1000, denseIntermediate: 200,
        experts: 8, topK: 3, moeIntermediate: 40, sharedIntermediate: 80, tokenCounts: [1, 5, 19], longContext: 280
    )

    public static let all: [SelfTestShape] = [.small, .ernie03B, .ernie21B, .ernie300B]

    var isMoE: Bool { experts > 0 }
    /// MoE blocks are also checked at a large decode step (160 tokens: the grouped path's warpgroup expert kernels,
    /// several passes over the shared expert's rows) and at a step too large for the grouped path (the host-grouped
    /// path and its router kernels).
    var moeTokenCounts: [Int] { tokenCounts + [160, 300] }
    var qkvWidth: Int { (heads + 2 * kvHeads) * headDim }
}
