import Foundation

/// The printed result of `bench-serving`, in the layout and labels of SGLang's late-2025 `bench_serving.py`.
public enum Report {
    /// Python's `"{s:{c}^{n}}".format(...)`: `text` centred in `width` copies of `fill` (odd padding goes right).
    static func centered(_ text: String, fill: Character, width: Int = 50) -> String {
        let padding = max(0, width - text.count)
        let left = padding / 2
        return String(repeating: fill, count: left) + text + String(repeating: fill, count: padding - left)
    }

    /// `"{:<40} {:<10}".format(label, value)`.
    static func row(_ label: String, _ value: String) -> String {
        pad(label, 40) + " " + pad(value, 10)
    }

    /// `"{:<40} {:<10.2f}".format(label, value)`.
    static func row(_ label: String, _ value: Double) -> String {
        row(label, fixed2(value))
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// Python's `format(value, ".2f")` (same correctly rounded conversion as C's `%.2f`).
    static func fixed2(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return String(format: "%.2f", value)
    }

    /// Python's `str(float)`.
    static func pythonFloat(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return "\(value)"
    }

    /// The report: a blank line, then the framed table.
    public static func render(
        backend: BenchBackend, requestRate: Double, maxConcurrency: Int?, duration: Double,
        metrics m: BenchmarkMetrics, acceptLength: Double?
    ) -> String {
        var lines: [String] = [""]
        lines.append(centered(" Serving Benchmark Result ", fill: "="))
        lines.append(row("Backend:", backend.rawValue))
        lines.append(row("Traffic request rate:", pythonFloat(requestRate)))
        lines.append(row("Max request concurrency:", maxConcurrency.map(String.init) ?? "not set"))
        lines.append(row("Successful requests:", String(m.completed)))
        lines.append(row("Benchmark duration (s):", duration))
        lines.append(row("Total input tokens:", String(m.totalInput)))
        lines.append(row("Total input text tokens:", String(m.totalInputText)))
        lines.append(row("Total input vision tokens:", String(m.totalInputVision)))
        lines.append(row("Total generated tokens:", String(m.totalOutput)))
        lines.append(row("Total generated tokens (retokenized):", String(m.totalOutputRetokenized)))
        lines.append(row("Request throughput (req/s):", m.requestThroughput))
        lines.append(row("Input token throughput (tok/s):", m.inputThroughput))
        lines.append(row("Output token throughput (tok/s):", m.outputThroughput))
        lines.append(row("Peak output token throughput (tok/s):", m.maxOutputTokensPerSecond))
        lines.append(row("Peak concurrent requests:", String(m.maxConcurrentRequests)))
        lines.append(row("Total token throughput (tok/s):", m.totalThroughput))
        lines.append(row("Concurrency:", m.concurrency))
        if let acceptLength, acceptLength != 0, !acceptLength.isNaN {
            lines.append(row("Accept length:", acceptLength))
        }
        lines.append(centered("End-to-End Latency", fill: "-"))
        lines.append(row("Mean E2E Latency (ms):", m.meanE2Ems))
        lines.append(row("Median E2E Latency (ms):", m.medianE2Ems))
        lines.append(centered("Time to First Token", fill: "-"))
        lines.append(row("Mean TTFT (ms):", m.meanTTFTms))
        lines.append(row("Median TTFT (ms):", m.medianTTFTms))
        lines.append(row("P99 TTFT (ms):", m.p99TTFTms))
        lines.append(centered("Time per Output Token (excl. 1st token)", fill: "-"))
        lines.append(row("Mean TPOT (ms):", m.meanTPOTms))
        lines.append(row("Median TPOT (ms):", m.medianTPOTms))
        lines.append(row("P99 TPOT (ms):", m.p99TPOTms))
        lines.append(centered("Inter-Token Latency", fill: "-"))
        lines.append(row("Mean ITL (ms):", m.meanITLms))
        lines.append(row("Median ITL (ms):", m.medianITLms))
        lines.append(row("P95 ITL (ms):", m.p95ITLms))
        lines.append(row("P99 ITL (ms):", m.p99ITLms))
        lines.append(row("Max ITL (ms):", m.maxITLms))
        lines.append(String(repeating: "=", count: 50))
        return lines.joined(separator: "\n") + "\n"
    }
}
