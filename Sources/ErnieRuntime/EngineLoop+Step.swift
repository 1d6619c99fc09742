import ErnieModel

extension EngineLoop {
    /// What one logits row of a step is for.
    private enum RowUse {
        case score(SequenceID, position: Int)
        case sample(SequenceID)
    }

    /// Runs a planned step on the executor and processes its results. Returns the number of tokens generated.
    func runStep(_ plan: StepPlan) -> Int {
        let masks = constraintMasks(plan)
        var tokens: [Int32] = []
        tokens.reserveCapacity(plan.tokenCount)
        var sequences: [ForwardBatch.Sequence] = []
        var rows: [LogitsRequest] = []
        var uses: [RowUse] = []
        for entry in plan.entries {
            guard let state = requests[entry.id] else { continue }
            let offset = tokens.count
            tokens += entry.tokens
            sequences.append(
                ForwardBatch.Sequence(
                    tokenOffset: offset, tokenCount: entry.tokens.count, startPosition: entry.startPosition,
                    pages: entry.pages))
            for position in entry.scorePositions {
                rows.append(
                    state.scoreRequest(
                        tokenIndex: offset + position - entry.startPosition, position: position, rules: rules))
                uses.append(.score(entry.id, position: position))
            }
            if entry.samples {
                rows.append(
                    state.sampleRequest(
                        tokenIndex: offset + entry.tokens.count - 1, rules: rules, allowed: masks[entry.id]))
                uses.append(.sample(entry.id))
            }
        }
        let batch = ForwardBatch(tokens: tokens, sequences: sequences, pageSize: pageSize)
        let results: [TokenResult]
        do {
            results = try executor.execute(batch, logits: rows)
            guard results.count == rows.count else {
                throw EngineFailure("the executor answered \(results.count) logits rows for \(rows.count) requested")
            }
        } catch {
            // The step failed: its requests end with the error, everything else keeps running.
            for entry in plan.entries {
                finishRequest(entry.id, reason: .abort("engine error: \(error)"), cacheable: false)
            }
            return 0
        }

        let progress = scheduler.complete(plan)
        var sampled: [SequenceID: TokenResult] = [:]
        for (use, result) in zip(uses, results) {
            switch use {
            case .score(let id, let position):
                requests[id]?.recordScore(position: position, result: result)
            case .sample(let id):
                sampled[id] = result
            }
        }

        var generated = 0
        for entry in plan.entries {
            guard var state = requests[entry.id] else { continue }
            switch progress[entry.id] {
            case .sampled:
                guard let result = sampled[entry.id], let token = result.token, token >= 0,
                    Int(token) < rules.vocabLimit
                else {
                    finishRequest(
                        entry.id, reason: .abort("engine error: the executor returned no valid token"),
                        cacheable: false)
                    continue
                }
                generated += 1
                let output = state.accept(result, rules: rules)
                if output.finishReason == nil { scheduler.append(token, to: entry.id) }
                deliver(output, for: entry.id, state: state)
            case .prefilled:
                deliver(state.prefilledOutput(), for: entry.id, state: state)
            case .chunk, nil:
                break
            }
        }
        counters.generationTokens += generated
        return generated
    }
}

extension EngineLoop {
    /// The allowed-token masks of the constrained requests that sample in this step. A request whose constraint
    /// fails is finished with the error (it then drops out of the step).
    fileprivate func constraintMasks(_ plan: StepPlan) -> [SequenceID: TokenBitmask] {
        var masks: [SequenceID: TokenBitmask] = [:]
        for entry in plan.entries where entry.samples {
            guard let state = requests[entry.id], state.isConstrained else { continue }
            do {
                masks[entry.id] = try state.allowedTokens(rules: rules)
            } catch {
                finishRequest(entry.id, reason: .abort("structured output: \(error)"), cacheable: false)
            }
        }
        return masks
    }
}

/// An internal engine failure (reported to the affected requests as an abort message).
struct EngineFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
