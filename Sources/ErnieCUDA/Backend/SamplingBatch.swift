import ErnieModel

/// `LogitsRequest`s packed into the flat arrays `ernie_sample` reads (layouts: Kernels/sampling.cu).
struct SamplingBatch: Equatable {
    static let intStride = 11
    static let floatStride = 6
    static let maxTopLogprobs = 256

    enum Mode: Int32 {
        case scoreOnly = 0
        case greedy = 1
        case sample = 2
    }

    var ints: [Int32] = []
    var floats: [Float] = []
    /// (seed, counter) per request.
    var seeds: [UInt64] = []
    /// Penalty entries: token and its output count (0 for prompt-only tokens).
    var penaltyTokens: [Int32] = []
    var penaltyCounts: [Int32] = []
    var bannedTokens: [Int32] = []
    /// Allowed-token bitmasks of constrained requests, `ceil(limit / 32)` words each (missing words are zero).
    var maskWords: [UInt32] = []
    /// Widest top-logprobs request (columns of the top-n outputs).
    var maxTop = 0

    init(requests: [LogitsRequest], vocabulary: Int, topPAfterTopK: Bool) throws {
        for (index, request) in requests.enumerated() {
            guard request.vocabLimit > 0 else {
                throw CUDAError.invalidArgument("request \(index): vocabLimit must be positive")
            }
            guard request.topLogprobs >= 0, request.topLogprobs <= Self.maxTopLogprobs else {
                throw CUDAError.invalidArgument(
                    "request \(index): top_logprobs \(request.topLogprobs) outside 0...\(Self.maxTopLogprobs)"
                )
            }
            let limit = min(request.vocabLimit, vocabulary)
            var mode = Mode.scoreOnly
            var floatsRow: [Float] = [1, 1, 0, 1, 0, 0]
            var topK: Int32 = 0
            let penaltyBegin = Int32(penaltyTokens.count)
            if let sampling = request.sampling {
                // ErnieModel's Sampler: greedy also when 1 / temperature overflows.
                mode = sampling.isGreedy || !(1 / sampling.temperature).isFinite ? .greedy : .sample
                guard sampling.temperature.isFinite, sampling.repetitionPenalty > 0,
                    sampling.repetitionPenalty.isFinite,
                    sampling.frequencyPenalty.isFinite, sampling.presencePenalty.isFinite, !sampling.topP.isNaN,
                    !sampling.minP.isNaN
                else {
                    throw CUDAError.invalidArgument("request \(index): invalid sampling parameters \(sampling)")
                }
                topK = Int32(clamping: max(sampling.topK, 0))
                floatsRow = [
                    sampling.temperature, sampling.topP, sampling.minP, sampling.repetitionPenalty,
                    sampling.frequencyPenalty, sampling.presencePenalty,
                ]
                if sampling.usesPenalties, let history = request.penalties {
                    let generated = history.outputCounts.filter { $0.value > 0 }.keys
                    let tokens = Set(history.promptTokens).union(generated).sorted()
                    for token in tokens {
                        penaltyTokens.append(token)
                        penaltyCounts.append(max(history.outputCounts[token] ?? 0, 0))
                    }
                }
            }
            let banBegin = Int32(bannedTokens.count)
            if request.sampling != nil { bannedTokens += request.bannedTokens }
            var maskBegin: Int32 = -1
            if request.sampling != nil, let allowed = request.allowedTokens {
                maskBegin = Int32(maskWords.count)
                let needed = (limit + 31) / 32
                maskWords += allowed.words.prefix(needed)
                if allowed.words.count < needed {
                    maskWords += [UInt32](repeating: 0, count: needed - allowed.words.count)
                }
            }
            ints += [
                Int32(limit), mode.rawValue, topK, request.targetToken ?? -1, Int32(request.topLogprobs),
                penaltyBegin, Int32(penaltyTokens.count), banBegin, Int32(bannedTokens.count), topPAfterTopK ? 1 : 0,
                maskBegin,
            ]
            floats += floatsRow
            seeds += [request.sampling?.seed ?? 0, request.randomCounter]
            maxTop = max(maxTop, request.topLogprobs)
        }
    }
}
