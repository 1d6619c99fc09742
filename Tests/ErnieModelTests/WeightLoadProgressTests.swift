import ErnieCPU
import ErnieModel
import Foundation
import Testing

/// `WeightLoader`'s progress reports and `LoadProgressMeter`.
@Suite struct WeightLoadProgressTests {
    /// Bytes the model reads from a checkpoint, from its header alone: every tensor it uses (all but the unused ones),
    /// 4 bytes per element for the router and correction bias, 2 for the rest.
    static func expectedBytes(_ name: String, unused: [String]) throws -> Int {
        let checkpoint = try SafetensorsCheckpoint(directory: ModelFixtures.directory(name))
        var bytes = 0
        for tensor in checkpoint.tensorNames where !unused.contains(tensor) {
            let elements = try checkpoint.tensor(tensor).elementCount
            let float32 = tensor.hasSuffix("mlp.gate.weight") || tensor.contains("e_score_correction_bias")
            bytes += elements * (float32 ? 4 : 2)
        }
        return bytes
    }

    static func check(_ reports: [WeightLoadProgress], total: Int, minimumReports: Int) {
        #expect(reports.count >= minimumReports)
        #expect(reports.first?.bytesLoaded == 0)
        #expect(reports.last?.bytesLoaded == total)
        #expect(reports.last?.isComplete == true)
        #expect(reports.allSatisfy { $0.bytesTotal == total })
        #expect(zip(reports, reports.dropFirst()).allSatisfy { $0.bytesLoaded <= $1.bytesLoaded })
        #expect(reports.filter(\.isComplete).count >= 1)
        #expect(zip(reports, reports.dropFirst()).allSatisfy { $0.fraction <= $1.fraction })
    }

    @Test(arguments: ModelFixtures.names)
    func checkpointProgressIsMonotonicAndReachesTheBytesRead(name: String) throws {
        let directory = ModelFixtures.directory(name)
        let config = try ModelConfig(contentsOf: directory)
        var reports: [WeightLoadProgress] = []
        let loaded = try WeightLoader.load(
            directory: directory, config: config, format: .auto, backend: CPUBackend()
        ) { reports.append($0) }
        let total = try Self.expectedBytes(name, unused: loaded.unusedTensors)
        #expect(WeightLoader.parameterCounts(config: config).bf16Bytes == total)
        // Embedding, per layer at least norms + qkv + o + MLP/MoE parts, final norm.
        Self.check(reports, total: total, minimumReports: 2 + 5 * config.numHiddenLayers)
    }

    @Test func dummyAndShardedLoadsReachTheirTotals() throws {
        let directory = ModelFixtures.directory("moe-hub-f32")
        let config = try ModelConfig(contentsOf: directory)
        var reports: [WeightLoadProgress] = []
        _ = try WeightLoader.dummy(config: config, backend: CPUBackend()) { reports.append($0) }
        Self.check(reports, total: WeightLoader.parameterCounts(config: config).bf16Bytes, minimumReports: 10)

        for rank in 0..<2 {
            let layout = try ParallelLayout(config: config, rank: rank, tpSize: 2)
            reports = []
            _ = try WeightLoader.load(
                directory: directory, config: config, format: .safetensors, backend: CPUBackend(), layout: layout
            ) { reports.append($0) }
            let total = WeightLoader.parameterCounts(config: config, layout: layout).bf16Bytes
            #expect(total < WeightLoader.parameterCounts(config: config).bf16Bytes)
            Self.check(reports, total: total, minimumReports: 10)
        }
    }

    @Test func executorLoadReportsProgressAndAFailedLoadStopsShort() throws {
        var reports: [WeightLoadProgress] = []
        _ = try ErnieForward.load(
            directory: ModelFixtures.directory("dense-f32"), backend: CPUBackend(), kvPages: 2, pageSize: 16
        ) { reports.append($0) }
        let config = try ModelConfig(contentsOf: ModelFixtures.directory("dense-f32"))
        Self.check(reports, total: WeightLoader.parameterCounts(config: config).bf16Bytes, minimumReports: 5)

        // A checkpoint missing a tensor throws; progress never claimed completion.
        let broken = try SafetensorsTests.brokenFixture { $0.name != "model.layers.1.mlp.down_proj.weight" }
        reports = []
        #expect(throws: ModelError.self) {
            _ = try ErnieForward.load(directory: broken.path, backend: CPUBackend(), kvPages: 2, pageSize: 16) {
                reports.append($0)
            }
        }
        #expect(!reports.isEmpty)
        #expect(reports.allSatisfy { !$0.isComplete })
    }

    /// A meter with a hand-driven clock that records what it writes.
    final class Recorder {
        var now = 0.0
        var text: [String] = []
    }

    static func feed(_ meter: LoadProgressMeter, _ recorder: Recorder, total: Int, steps: Int, seconds: Double) {
        for i in 0...steps {
            recorder.now = seconds * Double(i) / Double(steps)
            meter.update(WeightLoadProgress(bytesLoaded: total * i / steps, bytesTotal: total))
        }
    }

    @Test func logLinesAtEveryTenthWhenNotATerminal() {
        let recorder = Recorder()
        let meter = LoadProgressMeter(isTerminal: false, delay: 0, write: { recorder.text.append($0) }) {
            recorder.now
        }
        Self.feed(meter, recorder, total: 43_600_000_000, steps: 1000, seconds: 20)
        #expect(recorder.text.count == 11)
        let percents = recorder.text.compactMap { line -> Int? in
            guard let r = line.range(of: #"\d+%"#, options: .regularExpression) else { return nil }
            return Int(line[r].dropLast())
        }
        #expect(percents == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
        #expect(recorder.text.allSatisfy { $0.hasPrefix("ernie: loading weights") && $0.hasSuffix("\n") })
        #expect(recorder.text.last == "ernie: loading weights 100% (43.6/43.6 GB, 20.0 s)\n")
        recorder.now = 35  // work after the load (a KV cache, a check) does not count
        meter.finish(device: "GPU")
        #expect(recorder.text.last == "ernie: weights on GPU: 43.6 GB in 20.0 s (2.18 GB/s)\n")
    }

    @Test func terminalBarRedrawsAtMostTenTimesASecondAndAlwaysShowsTheEnd() throws {
        let recorder = Recorder()
        let meter = LoadProgressMeter(isTerminal: true, delay: 0, write: { recorder.text.append($0) }) {
            recorder.now
        }
        Self.feed(meter, recorder, total: 2_000_000_000, steps: 999, seconds: 5)
        #expect(recorder.text.count >= 45 && recorder.text.count <= 52)
        #expect(recorder.text.allSatisfy { $0.hasPrefix("\r") && !$0.contains("\n") })
        let last = try #require(recorder.text.last)
        #expect(last.contains("100%|████████████████████|"))
        #expect(last.contains("2.0 GB"))
        meter.finish(device: "CPU")
        #expect(recorder.text.suffix(2).first == "\n")
    }

    @Test func nothingShowsBeforeTheDelay() {
        let recorder = Recorder()
        let meter = LoadProgressMeter(isTerminal: true, delay: 0.5, write: { recorder.text.append($0) }) {
            recorder.now
        }
        Self.feed(meter, recorder, total: 1_000_000, steps: 100, seconds: 0.2)
        #expect(recorder.text.isEmpty)
        meter.finish(device: "CPU")
        #expect(recorder.text == ["ernie: weights on CPU: 1.0 MB in 0.2 s (0.01 GB/s)\n"])
    }
}
