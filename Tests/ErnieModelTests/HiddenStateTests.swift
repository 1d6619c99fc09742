import ErnieCPU
import ErnieModel
import Foundation
import Testing

/// `ErnieForward.hiddenStateObserver` against transformers' `output_hidden_states` on the fixture models
/// (reference.json `hidden_states`, scripts/fixtures/models/hidden_states.py), and `HiddenStateComparison`.
@Suite struct HiddenStateTests {
    /// The stored rows of a reference point, decoded here (not with the code under test).
    static func decodeRows(_ base64: String) throws -> [Float] {
        let data = try #require(Data(base64Encoded: base64))
        return data.withUnsafeBytes { raw in
            stride(from: 0, to: raw.count, by: 4).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0, as: UInt32.self)))
            }
        }
    }

    static func captured(_ name: String) throws -> (ModelReference, HiddenStateReference,
                                                   [HiddenStatePoint: HiddenStateSnapshot]) {
        let reference = try ModelFixtures.reference(name)
        let entry = try #require(reference.hiddenStates?.first, "\(name) has no hidden_states")
        let executor = try ModelFixtures.executor(name)
        return (reference, entry, try executor.captureHiddenStates(prompt: reference.prompts[entry.prompt]))
    }

    @Test(arguments: ModelFixtures.names)
    func cpuHiddenStatesMatchTransformersLayerByLayer(name: String) throws {
        let (reference, entry, captured) = try Self.captured(name)
        let layers = reference.transformersView.numHiddenLayers
        let tokens = reference.prompts[entry.prompt].count
        #expect(Set(captured.keys) == Set(HiddenStatePoint.all(layers: layers)))
        #expect(entry.points.map(\.name) == HiddenStatePoint.all(layers: layers).map(\.name))
        var worst: (Float, String) = (0, "")
        for point in entry.points {
            let key = try #require(HiddenStatePoint(name: point.name))
            let snapshot = try #require(captured[key])
            #expect(snapshot.tokenIndices == Array(0..<tokens))
            #expect(snapshot.values.count == tokens * entry.hiddenSize)
            let expected = try Self.decodeRows(point.rowsF32)
            let scale = expected.map(abs).max() ?? 1
            for (r, position) in entry.positions.enumerated() {
                let got = Array(snapshot.values[(position * entry.hiddenSize)..<((position + 1) * entry.hiddenSize)])
                let want = Array(expected[(r * entry.hiddenSize)..<((r + 1) * entry.hiddenSize)])
                let error = ModelFixtures.maxAbsDifference(got, want) / scale
                if error > worst.0 { worst = (error, "\(point.name) token \(position)") }
                #expect(error < 1e-4, "\(name) \(point.name) token \(position): max |Δ| / max |ref| = \(error)")
            }
            for (token, norm) in point.norms.enumerated() {
                let row = snapshot.values[(token * entry.hiddenSize)..<((token + 1) * entry.hiddenSize)]
                let ours = row.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                #expect(abs(ours - norm) <= 1e-4 * norm, "\(name) \(point.name) token \(token) norm")
            }
        }
        print("[\(name)] CPU hidden states vs transformers: worst max |Δ| / max |ref| = \(worst.0) at \(worst.1)")
    }

    @Test func comparisonPassesTheCPUBackendAndNamesTheFirstCorruptedLayer() throws {
        let (_, entry, captured) = try Self.captured("moe-hub-f32")
        let strict = HiddenStateTolerance(relL2Floor: 1e-4, maxAbsFloor: 1e-4, baselineFactor: 0)
        let clean = try HiddenStateComparison(reference: entry, captured: captured, tolerance: strict)
        #expect(clean.passed, "\(clean.table)")
        #expect(clean.rows.count == 6)
        #expect(clean.rows.allSatisfy { $0.relL2 < 1e-5 })

        // A layer whose output is 2% off (as a bf16 bug deep in one layer would be) fails there and not before.
        var corrupted = captured
        var layer = try #require(captured[.layer(1)])
        layer.values = layer.values.map { $0 * 1.02 }
        corrupted[.layer(1)] = layer
        let bad = try HiddenStateComparison(reference: entry, captured: corrupted, tolerance: strict)
        #expect(!bad.passed)
        #expect(bad.firstFailure?.point == "layer.1")
        let row = try #require(bad.rows.first { $0.point == "layer.1" })
        #expect(abs(row.relL2 - 0.02) < 1e-3)
        #expect(abs(row.normRelError - 0.02) < 1e-3)
        #expect(bad.table.contains("FAIL"))

        // The default bf16 bounds accept 2% where transformers-bf16 is itself ~1.6% off (4× its error).
        let loose = try HiddenStateComparison(reference: entry, captured: corrupted)
        let looseRow = try #require(loose.rows.first { $0.point == "layer.1" })
        #expect(looseRow.relL2Limit == max(0.01, 4 * (looseRow.baselineRelL2 ?? 0)))
        #expect(looseRow.maxAbsLimit >= 0.15 * looseRow.referenceMaxAbs)
        #expect(looseRow.passed == (looseRow.relL2 <= looseRow.relL2Limit && looseRow.maxAbs <= looseRow.maxAbsLimit))
    }

    @Test func comparisonRejectsMissingPointsAndMalformedRows() throws {
        let (_, entry, captured) = try Self.captured("dense-f32")
        var missing = captured
        missing[.layer(1)] = nil
        #expect(throws: ModelError.self) { try HiddenStateComparison(reference: entry, captured: missing) }

        var badBase64 = entry
        badBase64.points[1].rowsF32 = "not base64!"
        #expect(throws: ModelError.self) { try HiddenStateComparison(reference: badBase64, captured: captured) }

        var short = entry
        short.points[1].rowsF32 = Data([0, 0, 128, 63]).base64EncodedString()
        #expect(throws: ModelError.self) { try HiddenStateComparison(reference: short, captured: captured) }

        var unknown = entry
        unknown.points[0].name = "layer.x"
        #expect(throws: ModelError.self) { try HiddenStateComparison(reference: unknown, captured: captured) }
    }

    @Test func observerSeesEveryPointInOrderAndChangesNothing() throws {
        let reference = try ModelFixtures.reference("moe-fused-bf16-sharded")
        let prompt = reference.prompts[3]
        let plain = SequentialGenerator(executor: try ModelFixtures.executor("moe-fused-bf16-sharded"))
        let expected = try plain.promptLogprobs(prompt, chunkSize: 32)
        let greedy = try plain.generate(prompt: prompt, sampling: .greedy, maxNewTokens: 4)

        let executor = try ModelFixtures.executor("moe-fused-bf16-sharded")
        var seen: [(HiddenStatePoint, Int)] = []
        executor.hiddenStateObserver = { seen.append(($0.point, $0.tokenIndices.count)) }
        let observed = SequentialGenerator(executor: executor)
        #expect(try observed.promptLogprobs(prompt, chunkSize: 32) == expected)
        let layers = executor.config.numHiddenLayers
        let perStep = HiddenStatePoint.all(layers: layers)
        // 70 tokens in chunks of 32: 32, 32, 6 rows; the final norm only for rows with a next prompt token.
        #expect(seen.map(\.0) == perStep + perStep + perStep)
        #expect(seen.filter { $0.0 == .embedding }.map(\.1) == [32, 32, 6])
        #expect(seen.filter { $0.0 == .finalNorm }.map(\.1) == [32, 32, 5])

        seen = []
        #expect(try observed.generate(prompt: prompt, sampling: .greedy, maxNewTokens: 4) == greedy)
        // Prefill (3 chunks of the default 512: one) then 3 decode steps, each reaching every point once.
        #expect(seen.count == 4 * perStep.count)
        #expect(seen.filter { $0.0 == .finalNorm }.map(\.1) == [1, 1, 1, 1])
    }

    @Test func pointNames() {
        #expect(HiddenStatePoint(name: "embedding") == .embedding)
        #expect(HiddenStatePoint(name: "layer.0") == .layer(0))
        #expect(HiddenStatePoint(name: "layer.27") == .layer(27))
        #expect(HiddenStatePoint(name: "final_norm") == .finalNorm)
        for bad in ["", "layer.", "layer.-1", "layer.x", "layers.1", "final"] {
            #expect(HiddenStatePoint(name: bad) == nil, "\(bad)")
        }
        for point in HiddenStatePoint.all(layers: 3) { #expect(HiddenStatePoint(name: point.name) == point) }
        #expect(HiddenStatePoint.all(layers: 2).map(\.name) == ["embedding", "layer.0", "layer.1", "final_norm"])
    }
}
