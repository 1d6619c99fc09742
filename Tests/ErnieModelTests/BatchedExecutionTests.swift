import ErnieCPU
import ErnieModel
import Testing

/// Batching must not change results: several sequences in one step, prompts split into chunks over several steps,
/// decodes mixed with prefill chunks, pages scattered over the cache.
@Suite struct BatchedExecutionTests {
    static let pageSize = 4

    /// A sequence under test: its prompt, its (scattered) pages, what has been computed so far.
    struct Sequence {
        var tokens: [Int32]
        var pages: [Int32]
        var cached = 0

        var slotsNeeded: Int { (tokens.count + BatchedExecutionTests.pageSize - 1) / BatchedExecutionTests.pageSize }
    }

    /// Scattered page tables for sequences of the given maximum lengths, no page shared.
    static func pageTables(_ lengths: [Int]) -> [[Int32]] {
        let counts = lengths.map { ($0 + pageSize - 1) / pageSize }
        let total = counts.reduce(0, +)
        // A fixed permutation of 0..<total (multiplication by a unit modulo a prime ≥ total, then filtered).
        let prime = 1_009
        let permutation = (0..<prime).map { ($0 * 389 + 17) % prime }.filter { $0 < total }.map(Int32.init)
        var tables: [[Int32]] = []
        var next = 0
        for c in counts {
            tables.append(Array(permutation[next..<(next + c)]))
            next += c
        }
        return tables
    }

    static func scoreRequests(offset: Int, start: Int, count: Int, tokens: [Int32]) -> [LogitsRequest] {
        (0..<count).compactMap { j in
            let position = start + j
            guard position + 1 < tokens.count else { return nil }
            return LogitsRequest(
                tokenIndex: offset + j, sampling: nil, targetToken: tokens[position + 1], vocabLimit: Int(Int32.max)
            )
        }
    }

    @Test(arguments: ModelFixtures.names)
    func twoSequencesInOneBatchMatchEachAlone(name: String) throws {
        let reference = try ModelFixtures.reference(name)
        let a = reference.prompts[2], b = reference.prompts[3]
        let executor = try ModelFixtures.executor(name, pages: 64, pageSize: Self.pageSize)
        let tables = Self.pageTables([a.count, b.count])
        let batch = ForwardBatch(
            tokens: a + b,
            sequences: [
                .init(tokenOffset: 0, tokenCount: a.count, startPosition: 0, pages: tables[0]),
                .init(tokenOffset: a.count, tokenCount: b.count, startPosition: 0, pages: tables[1]),
            ],
            pageSize: Self.pageSize
        )
        let requests = Self.scoreRequests(offset: 0, start: 0, count: a.count, tokens: a)
            + Self.scoreRequests(offset: a.count, start: 0, count: b.count, tokens: b)
        let results = try executor.execute(batch, logits: requests).map { $0.targetLogprob ?? .nan }
        let gotA = Array(results[0..<(a.count - 1)]), gotB = Array(results[(a.count - 1)...])

        let alone = SequentialGenerator(executor: try ModelFixtures.executor(name))
        let aloneA = try alone.promptLogprobs(a), aloneB = try alone.promptLogprobs(b)
        #expect(ModelFixtures.maxAbsDifference(gotA, aloneA) < 1e-4)
        #expect(ModelFixtures.maxAbsDifference(gotB, aloneB) < 1e-4)
        #expect(ModelFixtures.maxAbsDifference(gotA, reference.promptLogprobs[2]) < 1e-3)
        #expect(ModelFixtures.maxAbsDifference(gotB, reference.promptLogprobs[3]) < 1e-3)
    }

    @Test(arguments: ModelFixtures.names)
    func chunkedPrefillMatchesTransformers(name: String) throws {
        let reference = try ModelFixtures.reference(name)
        let prompt = reference.prompts[3]
        let executor = try ModelFixtures.executor(name, pages: 64, pageSize: Self.pageSize)
        let pages = Self.pageTables([prompt.count])[0]
        var got: [Float] = []
        var start = 0
        for size in [1, 8, 3, 20, 38] where start < prompt.count {
            let count = min(size, prompt.count - start)
            let batch = ForwardBatch(
                tokens: Array(prompt[start..<(start + count)]),
                sequences: [.init(tokenOffset: 0, tokenCount: count, startPosition: start, pages: pages)],
                pageSize: Self.pageSize
            )
            let requests = Self.scoreRequests(offset: 0, start: start, count: count, tokens: prompt)
            got += try executor.execute(batch, logits: requests).map { $0.targetLogprob ?? .nan }
            start += count
        }
        #expect(start == prompt.count)
        #expect(ModelFixtures.maxAbsDifference(got, reference.promptLogprobs[3]) < 1e-3)
        #expect(got.count == reference.promptLogprobs[3].count)
    }

    /// Sequence A decodes greedily while sequence B prefills in chunks in the same steps, then both decode
    /// together: A's and B's continuations and B's prompt log-probabilities match transformers.
    @Test(arguments: ModelFixtures.names)
    func decodesMixedWithPrefillChunks(name: String) throws {
        let reference = try ModelFixtures.reference(name)
        let promptA = reference.prompts[2], promptB = reference.prompts[3]
        let newTokens = reference.greedy[2].count
        let executor = try ModelFixtures.executor(name, pages: 64, pageSize: Self.pageSize)
        let tables = Self.pageTables([promptA.count + newTokens, promptB.count + newTokens])
        var a = Sequence(tokens: promptA, pages: tables[0])
        var b = Sequence(tokens: promptB, pages: tables[1])
        var generatedA: [Int32] = [], generatedB: [Int32] = []
        var scoresB: [Float] = []
        let chunk = 25
        while generatedA.count < newTokens || generatedB.count < newTokens {
            var tokens: [Int32] = []
            var sequences: [ForwardBatch.Sequence] = []
            var requests: [LogitsRequest] = []
            var owners: [Character] = []
            var stepOfB = 0
            // A: its whole prompt first, then one token per step.
            if generatedA.count < newTokens {
                let count = a.tokens.count - a.cached
                sequences.append(.init(tokenOffset: 0, tokenCount: count, startPosition: a.cached, pages: a.pages))
                tokens += a.tokens[a.cached...]
                requests.append(LogitsRequest(tokenIndex: count - 1, sampling: .greedy, vocabLimit: 1 << 30))
                owners.append("A")
            }
            // B: prompt chunks of 25, then one token per step.
            if generatedB.count < newTokens {
                let offset = tokens.count
                let count = min(chunk, b.tokens.count - b.cached)
                stepOfB = count
                sequences.append(.init(tokenOffset: offset, tokenCount: count, startPosition: b.cached, pages: b.pages))
                tokens += b.tokens[b.cached..<(b.cached + count)]
                if b.cached < promptB.count {
                    let scoring = Self.scoreRequests(offset: offset, start: b.cached, count: count, tokens: promptB)
                    requests += scoring
                    owners += Array(repeating: "S", count: scoring.count)
                }
                if b.cached + count >= promptB.count {
                    requests.append(LogitsRequest(tokenIndex: offset + count - 1, sampling: .greedy, vocabLimit: 1 << 30))
                    owners.append("B")
                }
            }
            let batch = ForwardBatch(tokens: tokens, sequences: sequences, pageSize: Self.pageSize)
            let results = try executor.execute(batch, logits: requests)
            if generatedA.count < newTokens { a.cached = a.tokens.count }
            b.cached += stepOfB
            for (owner, result) in zip(owners, results) {
                switch owner {
                case "A":
                    let token = try #require(result.token)
                    generatedA.append(token)
                    a.tokens.append(token)
                case "B":
                    let token = try #require(result.token)
                    generatedB.append(token)
                    b.tokens.append(token)
                default:
                    scoresB.append(result.targetLogprob ?? .nan)
                }
            }
        }
        #expect(generatedA == reference.greedy[2])
        #expect(generatedB == reference.greedy[3])
        #expect(scoresB.count == reference.promptLogprobs[3].count)
        #expect(ModelFixtures.maxAbsDifference(scoresB, reference.promptLogprobs[3]) < 1e-3)
    }
}
