/// The request sets of `bench-serving`, built by SGLang's rules (`sample_*_requests` in `bench_serving.py`) from the
/// same random streams (`SGLangRandom`), drawn in the same order.
public enum Datasets {
    /// `compute_random_lens`: `count` uniform integers in `[max(int(fullLen * ratio), 1), fullLen]` (NumPy stream).
    public static func randomLengths(fullLen: Int, rangeRatio: Double, count: Int, rng: inout SGLangRandom) throws
        -> [Int]
    {
        guard rangeRatio.isFinite, count >= 0 else { throw BenchError("invalid length range ratio \(rangeRatio)") }
        let scaled = (Double(fullLen) * rangeRatio).rounded(.towardZero)
        let low = max(scaled < Double(Int.max) ? Int(max(scaled, -1)) : Int.max, 1)
        guard low <= fullLen else {
            throw BenchError("a length range ratio must be at most 1 (lengths would be from \(low) to \(fullLen))")
        }
        return rng.numpyRandint(low, fullLen + 1, count: count)
    }

    /// `random`: ShareGPT first (human) turns in shuffled order, re-tokenized, truncated or repeated to the sampled
    /// length, decoded back to text (or kept as ids with `returnText == false`, i.e. `--tokenize-prompt`).
    /// Conversations with fewer than two turns and empty prompts are skipped; the set is shorter than `numPrompts`
    /// only if the file runs out.
    public static func random(
        inputLen: Int, outputLen: Int, numPrompts: Int, rangeRatio: Double, tokenizer: any BenchTokenizer,
        file: ShareGPTFile, returnText: Bool, rng: inout SGLangRandom
    ) throws -> [DatasetRow] {
        let inputLens = try randomLengths(fullLen: inputLen, rangeRatio: rangeRatio, count: numPrompts, rng: &rng)
        let outputLens = try randomLengths(fullLen: outputLen, rangeRatio: rangeRatio, count: numPrompts, rng: &rng)
        var order = try file.conversationIndices()
        rng.pythonShuffle(&order)
        var rows: [DatasetRow] = []
        for index in order {
            let i = rows.count
            if i == numPrompts { break }
            guard let turns = try file.firstTwoTurns(index) else { continue }
            let ids = tokenizer.encodeText(turns.prompt)
            guard !ids.isEmpty else { continue }
            let inputIDs = fitted(ids, to: inputLens[i])
            rows.append(
                DatasetRow(
                    prompt: returnText ? .text(tokenizer.decodeIDs(inputIDs)) : .ids(inputIDs),
                    promptLen: inputLens[i], outputLen: outputLens[i]))
        }
        return rows
    }

    /// A token list truncated to `length`, or repeated `ceil(length / count)` times and truncated.
    public static func fitted(_ ids: [Int], to length: Int) -> [Int] {
        guard !ids.isEmpty, length > 0 else { return [] }
        if ids.count >= length { return Array(ids[..<length]) }
        let times = (length + ids.count - 1) / ids.count
        return Array(Array([[Int]](repeating: ids, count: times).joined())[..<length])
    }

    /// `random-ids`: ids `(offset_i + i + j) % vocabularySize` with a random offset per prompt.
    public static func randomIDs(
        inputLen: Int, outputLen: Int, numPrompts: Int, rangeRatio: Double, tokenizer: any BenchTokenizer,
        returnText: Bool, rng: inout SGLangRandom
    ) throws -> [DatasetRow] {
        let vocab = tokenizer.vocabularySize
        guard vocab > 0 else { throw BenchError("the tokenizer reports an empty vocabulary") }
        let inputLens = try randomLengths(fullLen: inputLen, rangeRatio: rangeRatio, count: numPrompts, rng: &rng)
        let outputLens = try randomLengths(fullLen: outputLen, rangeRatio: rangeRatio, count: numPrompts, rng: &rng)
        let offsets = rng.numpyRandint(0, vocab, count: numPrompts)
        return (0..<numPrompts).map { i in
            let ids = (0..<inputLens[i]).map { j in (offsets[i] + i + j) % vocab }
            return DatasetRow(
                prompt: returnText ? .text(tokenizer.decodeIDs(ids)) : .ids(ids), promptLen: inputLens[i],
                outputLen: outputLens[i])
        }
    }

    /// `sharegpt`: (first turn, second turn) pairs in shuffled order; prompt and output lengths are their token
    /// counts (or `fixedOutputLen`); pairs with fewer than 2 tokens on either side, or longer than `contextLen` in
    /// total, are dropped.
    public static func shareGPT(
        numPrompts: Int, tokenizer: any BenchTokenizer, file: ShareGPTFile, fixedOutputLen: Int?, contextLen: Int?,
        promptSuffix: String, rng: inout SGLangRandom
    ) throws -> [DatasetRow] {
        if let fixedOutputLen, fixedOutputLen < 4 {
            throw BenchError("--sharegpt-output-len must be at least 4 (got \(fixedOutputLen))")
        }
        var order = try file.conversationIndices()
        rng.pythonShuffle(&order)
        var rows: [DatasetRow] = []
        for index in order {
            if rows.count == numPrompts { break }
            guard let turns = try file.firstTwoTurns(index) else { continue }
            var prompt = turns.prompt
            if !promptSuffix.isEmpty {
                let assistant = "Assistant:"
                if prompt.hasSuffix(assistant) { prompt.removeLast(assistant.count) }
                prompt += promptSuffix + assistant
            }
            let promptLen = tokenizer.encodeText(prompt).count
            let outputLen = fixedOutputLen ?? tokenizer.encodeText(turns.completion).count
            if promptLen < 2 || outputLen < 2 { continue }
            if let contextLen, contextLen > 0, promptLen + outputLen > contextLen { continue }
            rows.append(DatasetRow(prompt: .text(prompt), promptLen: promptLen, outputLen: outputLen))
        }
        return rows
    }

    /// Options of `generated-shared-prefix` (`--gsp-*`).
    public struct SharedPrefixOptions: Sendable {
        public var numGroups = 64
        public var promptsPerGroup = 16
        public var systemPromptLen = 2048
        public var questionLen = 128
        public var outputLen = 256
        public var rangeRatio = 1.0
        public init() {}
    }

    /// `generated-shared-prefix`: per group a system prompt of random vocabulary tokens, per prompt a random question;
    /// the prompt is `system + "\n\n" + question`, its length the token count of that text; the set is shuffled.
    /// (SGLang draws tokens from `tokenizer.get_vocab().values()`, whose order is the tokenizer library's; here the
    /// vocabulary is in id order, so the lengths match SGLang's and the token content does not.)
    public static func generatedSharedPrefix(
        _ options: SharedPrefixOptions, tokenizer: any BenchTokenizer, rng: inout SGLangRandom
    ) throws -> [DatasetRow] {
        let vocabulary = tokenizer.allTokenIDs
        guard !vocabulary.isEmpty else { throw BenchError("the tokenizer reports an empty vocabulary") }
        let total = options.numGroups * options.promptsPerGroup
        let systemLens = try randomLengths(
            fullLen: options.systemPromptLen, rangeRatio: options.rangeRatio, count: options.numGroups, rng: &rng)
        let questionLens = try randomLengths(
            fullLen: options.questionLen, rangeRatio: options.rangeRatio, count: total, rng: &rng)
        let outputLens = try randomLengths(
            fullLen: options.outputLen, rangeRatio: options.rangeRatio, count: total, rng: &rng)
        let systems = systemLens.map { tokenizer.decodeIDs(rng.pythonChoices(vocabulary, count: $0)) }
        let questions = questionLens.map { tokenizer.decodeIDs(rng.pythonChoices(vocabulary, count: $0)) }
        var rows: [DatasetRow] = []
        rows.reserveCapacity(total)
        for group in 0..<options.numGroups {
            for k in 0..<options.promptsPerGroup {
                let flat = group * options.promptsPerGroup + k
                let prompt = systems[group] + "\n\n" + questions[flat]
                rows.append(
                    DatasetRow(
                        prompt: .text(prompt), promptLen: tokenizer.encodeText(prompt).count,
                        outputLen: outputLens[flat]))
            }
        }
        rng.pythonShuffle(&rows)
        return rows
    }
}
