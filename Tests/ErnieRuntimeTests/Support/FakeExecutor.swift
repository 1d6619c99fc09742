import ErnieModel
import Foundation
import Synchronization

/// What a `FakeExecutor` observed, readable from the test while the engine thread owns the executor.
final class FakeExecutorLog: Sendable {
    struct Step: Sendable {
        var tokenCount: Int
        var sequenceCount: Int
        /// Tokens per sequence in this step.
        var sequenceTokens: [Int]
    }

    private let state = Mutex<(steps: [Step], failuresLeft: Int, failWhenTokenSeen: Int32?)>(([], 0, nil))
    private let delay = Mutex<Duration>(.zero)

    /// Wall time each step takes (so tests can act while a request is running).
    var stepDelay: Duration {
        get { delay.withLock { $0 } }
        set { delay.withLock { $0 = newValue } }
    }

    var steps: [Step] { state.withLock { $0.steps } }

    /// Makes the next `count` steps throw.
    func failNextSteps(_ count: Int) { state.withLock { $0.failuresLeft = count } }
    /// Makes every step that feeds `token` throw.
    func failWhenFeeding(_ token: Int32?) { state.withLock { $0.failWhenTokenSeen = token } }

    func record(_ step: Step, tokens: [Int32]) -> Bool {
        state.withLock { state in
            state.steps.append(step)
            if let bad = state.failWhenTokenSeen, tokens.contains(bad) { return true }
            if state.failuresLeft > 0 {
                state.failuresLeft -= 1
                return true
            }
            return false
        }
    }
}

struct FakeExecutorError: Error, CustomStringConvertible {
    var description: String
}

/// A `ModelExecutor` over `FakeModel` with a real paged KV store: every token's (token, position) is written to the
/// slot its page table names, and the logits of a token are computed from what the KV store holds for positions
/// `0 ... p` of its sequence. Wrong page tables, wrong prefix reuse or a page overwritten by another sequence
/// therefore change the output (or throw when a slot holds the wrong position).
final class FakeExecutor: ModelExecutor {
    let model: FakeModel
    let config: ModelConfig
    let kvLayout: KVCacheLayout
    let deviceDescription = "fake"
    let log: FakeExecutorLog
    private var slots: [(token: Int32, position: Int32)?]

    init(model: FakeModel = FakeModel(), pages: Int, pageSize: Int, log: FakeExecutorLog = FakeExecutorLog()) {
        self.model = model
        config = model.config
        kvLayout = KVCacheLayout(numPages: pages, pageSize: pageSize, numLayers: 1, numKVHeads: 1, headDim: 8)
        self.log = log
        slots = Array(repeating: nil, count: pages * pageSize)
    }

    func execute(_ batch: ForwardBatch, logits: [LogitsRequest]) throws -> [TokenResult] {
        let step = FakeExecutorLog.Step(
            tokenCount: batch.tokens.count, sequenceCount: batch.sequences.count,
            sequenceTokens: batch.sequences.map(\.tokenCount))
        if log.record(step, tokens: batch.tokens) { throw FakeExecutorError(description: "injected failure") }
        let delay = log.stepDelay
        if delay > .zero {
            let (seconds, attoseconds) = delay.components
            Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) * 1e-18)
        }
        let ps = batch.pageSize
        guard ps == kvLayout.pageSize else { throw FakeExecutorError(description: "page size \(ps)") }
        var owner = [Int: Int]()  // token index → sequence index
        var written = Set<Int>()
        for (s, seq) in batch.sequences.enumerated() {
            guard seq.pages.count * ps >= seq.endPosition else {
                throw FakeExecutorError(description: "sequence \(s): \(seq.pages.count) pages for \(seq.endPosition)")
            }
            for j in 0..<seq.tokenCount {
                let p = seq.startPosition + j
                let page = Int(seq.pages[p / ps])
                guard page >= 0, page < kvLayout.numPages else { throw FakeExecutorError(description: "page \(page)") }
                let slot = page * ps + p % ps
                guard written.insert(slot).inserted else {
                    throw FakeExecutorError(description: "slot \(slot) written twice in one step")
                }
                slots[slot] = (batch.tokens[seq.tokenOffset + j], Int32(p))
                owner[seq.tokenOffset + j] = s
            }
        }
        return try logits.map { request in
            guard let s = owner[request.tokenIndex] else {
                throw FakeExecutorError(description: "logits row \(request.tokenIndex) outside the batch")
            }
            let seq = batch.sequences[s]
            let position = seq.startPosition + request.tokenIndex - seq.tokenOffset
            let state = try attend(seq, upTo: position, pageSize: ps)
            return FakeModel.answer(model.logits(state: state), request)
        }
    }

    /// The model state after positions `0 ... position` as read from the KV store through the page table.
    private func attend(_ seq: ForwardBatch.Sequence, upTo position: Int, pageSize ps: Int) throws -> UInt64 {
        var h: UInt64 = 0x1234_5678
        for p in 0...position {
            let slot = Int(seq.pages[p / ps]) * ps + p % ps
            guard let entry = slots[slot], entry.position == Int32(p) else {
                throw FakeExecutorError(description: "KV slot \(slot) does not hold position \(p)")
            }
            h = FakeModel.mix(h, token: entry.token, position: p)
        }
        return h
    }
}
