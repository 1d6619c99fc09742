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
        /// Prompt tokens of each profiled step when it is a prefill step (0: a decode step of `batch` sequences).
        public var prefillTokens: Int = 0
        public var rows: [Row]
        /// Mean wall time of a profiled step (events add a little per launch).
        public var profiledStepMilliseconds: Double

        public var kernelMicroseconds: Double { rows.reduce(0) { $0 + $1.microsecondsPerStep } }

        /// A Markdown table (one row per label plus the total), shares against `ceilings`.
        public func table(_ ceilings: Ceilings) -> String {
            let what =
                prefillTokens > 0
                ? "prefill \(prefillTokens) tokens" : "decode batch \(batch), context \(context)"
            var lines = [
                "\(what), \(steps) profiled steps: kernels "
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
        return try profile(backend: backend, warmUp: 2, steps: steps, step: decode).report(
            batch: batch, context: context, steps: steps)
    }

    /// KV pages a prefill profile of `tokens` prompt tokens needs.
    public static func prefillPagesNeeded(tokens: Int, pageSize: Int) -> Int { (tokens + pageSize - 1) / pageSize + 1 }

    /// Runs 1 warm-up, then `steps` profiled prefill steps: one sequence of `tokens` prompt tokens from position 0
    /// (the same pages each time), logits for its last token only — the step the server runs for a new prompt.
    public static func runPrefill(executor: ErnieForward<CUDABackend>, tokens: Int, steps: Int) throws -> Report {
        let pageSize = executor.kvLayout.pageSize
        let vocab = executor.config.vocabSize
        let pages = (0..<((tokens + pageSize - 1) / pageSize)).map { Int32(1 + $0) }
        func prefill(_ step: Int) throws {
            let ids = (0..<tokens).map { Int32(($0 * 7919 + step * 104_729) % max(vocab - 1, 1)) }
            let sequence = ForwardBatch.Sequence(tokenOffset: 0, tokenCount: tokens, startPosition: 0, pages: pages)
            _ = try executor.execute(
                ForwardBatch(tokens: ids, sequences: [sequence], pageSize: pageSize),
                logits: [LogitsRequest(tokenIndex: tokens - 1, sampling: .greedy, vocabLimit: vocab)])
        }
        var report = try profile(backend: executor.backend, warmUp: 1, steps: steps, step: prefill).report(
            batch: 1, context: 0, steps: steps)
        report.prefillTokens = tokens
        return report
    }

    private struct Profiled {
        var entries: [(label: String, count: Int, milliseconds: Double, bytes: Double, flops: Double)]
        var wallSeconds: Double

        func report(batch: Int, context: Int, steps: Int) -> Report {
            let n = Double(max(steps, 1))
            let rows = entries.map {
                Row(
                    label: $0.label, launchesPerStep: Double($0.count) / n,
                    microsecondsPerStep: $0.milliseconds * 1000 / n, bytesPerStep: $0.bytes / n, flopsPerStep: $0.flops / n)
            }
            return Report(
                batch: batch, context: context, steps: steps, rows: rows, profiledStepMilliseconds: wallSeconds / n * 1000)
        }
    }

    private static func profile(
        backend: CUDABackend, warmUp: Int, steps: Int, step: (Int) throws -> Void
    ) throws -> Profiled {
        for i in 0..<warmUp { try step(i) }
        backend.startProfile()
        let start = Date()
        for i in 0..<steps { try step(warmUp + i) }
        let wall = Date().timeIntervalSince(start)
        return Profiled(entries: try backend.stopProfile(), wallSeconds: wall)
    }
}
