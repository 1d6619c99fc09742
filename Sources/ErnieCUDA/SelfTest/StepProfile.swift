import ErnieModel
import Foundation

/// Per-kernel profile of a decode step (`ernie cuda profile`): every launch of `steps` eager decode steps of batch
/// `batch` at context `context` timed with CUDA events, grouped by label, with the bytes and FLOPs each moves and
/// does, as achieved bandwidth / FLOP rate and as a share of the measured ceilings.
public enum StepProfile {
    public struct Row: Sendable {
        public var label: String
        public var launchesPerStep: Double
        public var microsecondsPerStep: Double
        public var bytesPerStep: Double
        public var flopsPerStep: Double
    }

    public struct Report: Sendable {
        public var batch: Int
        public var context: Int
        public var steps: Int
        public var rows: [Row]
        /// Mean wall time of a profiled step (events add a little per launch).
        public var profiledStepMilliseconds: Double

        public var kernelMicroseconds: Double { rows.reduce(0) { $0 + $1.microsecondsPerStep } }

        /// A Markdown table (one row per label plus the total), shares against `ceilings`.
        public func table(_ ceilings: Ceilings) -> String {
            var lines = [
                "decode batch \(batch), context \(context), \(steps) profiled steps: kernels "
                    + String(format: "%.1f µs/step, profiled step %.2f ms", kernelMicroseconds, profiledStepMilliseconds),
                "",
                "| kernel (label) | launches/step | µs/step | share | MB/step | GB/s | % read BW | TFLOP/s | % GEMM peak |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            let total = max(kernelMicroseconds, 1e-9)
            func line(_ r: Row) -> String {
                let seconds = r.microsecondsPerStep * 1e-6
                let gbps = seconds > 0 ? r.bytesPerStep / seconds / 1e9 : 0
                let tflops = seconds > 0 ? r.flopsPerStep / seconds / 1e12 : 0
                return "| \(r.label) | "
                    + String(
                        format: "%.0f | %.1f | %.1f%% | %.2f | %.0f | %.1f%% | %.2f | %.2f%% |", r.launchesPerStep,
                        r.microsecondsPerStep, 100 * r.microsecondsPerStep / total, r.bytesPerStep / 1e6, gbps,
                        100 * gbps / max(ceilings.readGBps, 1e-9), tflops, 100 * tflops / max(ceilings.gemmTFLOPs, 1e-9))
            }
            lines += rows.map(line)
            let sum = Row(
                label: "**total**", launchesPerStep: rows.reduce(0) { $0 + $1.launchesPerStep },
                microsecondsPerStep: kernelMicroseconds, bytesPerStep: rows.reduce(0) { $0 + $1.bytesPerStep },
                flopsPerStep: rows.reduce(0) { $0 + $1.flopsPerStep })
            lines.append(line(sum))
            return lines.joined(separator: "\n")
        }
    }

    /// KV pages a profile of `batch` sequences at `context` needs (plus warm-up steps).
    public static func pagesNeeded(batch: Int, context: Int, steps: Int, pageSize: Int) -> Int {
        batch * ((context + steps + 4 + pageSize - 1) / pageSize) + 1
    }

    /// Runs 2 warm-up steps, then `steps` profiled steps. The backend should have CUDA graphs off (graph replays
    /// launch nothing to time).
    public static func run(
        executor: ErnieForward<CUDABackend>, batch: Int, context: Int, steps: Int
    ) throws -> Report {
        let backend = executor.backend
        let pageSize = executor.kvLayout.pageSize
        let vocab = executor.config.vocabSize
        let perSequence = (context + steps + 4 + pageSize - 1) / pageSize
        func decode(_ step: Int) throws {
            var sequences: [ForwardBatch.Sequence] = []
            for s in 0..<batch {
                let first = 1 + s * perSequence
                sequences.append(
                    .init(
                        tokenOffset: s, tokenCount: 1, startPosition: context + step,
                        pages: (first..<(first + perSequence)).map { Int32($0) }))
            }
            let tokens = (0..<batch).map { Int32(($0 * 7919 + step * 104_729) % max(vocab - 1, 1)) }
            let requests = (0..<batch).map { LogitsRequest(tokenIndex: $0, sampling: .greedy, vocabLimit: vocab) }
            _ = try executor.execute(
                ForwardBatch(tokens: tokens, sequences: sequences, pageSize: pageSize), logits: requests)
        }
        try decode(0)
        try decode(1)
        backend.startProfile()
        let start = Date()
        for step in 0..<steps { try decode(2 + step) }
        let wall = Date().timeIntervalSince(start) / Double(max(steps, 1))
        let entries = try backend.stopProfile()
        let n = Double(max(steps, 1))
        let rows = entries.map {
            Row(
                label: $0.label, launchesPerStep: Double($0.count) / n, microsecondsPerStep: $0.milliseconds * 1000 / n,
                bytesPerStep: $0.bytes / n, flopsPerStep: $0.flops / n)
        }
        return Report(batch: batch, context: context, steps: steps, rows: rows, profiledStepMilliseconds: wall * 1000)
    }
}
