import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

@testable import ErnieBench

/// Aggregates against NumPy (fixtures from scripts/fixtures/bench/make_fixtures.py).
@Suite struct MetricsTests {
    func near(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(b)) }

    @Test func statisticsMatchNumPy() throws {
        let cases = try #require(try BenchFixtures.json("metrics_reference.json")["stats"] as? [[String: Any]])
        #expect(cases.count == 5)
        for c in cases {
            let x = try #require(c["x"] as? [Double])
            #expect(near(Statistics.mean(x), try #require(c["mean"] as? Double)))
            #expect(near(Statistics.median(x), try #require(c["median"] as? Double)))
            #expect(near(Statistics.std(x), try #require(c["std"] as? Double)))
            #expect(near(Statistics.percentile(x, 95), try #require(c["p95"] as? Double)))
            #expect(near(Statistics.percentile(x, 99), try #require(c["p99"] as? Double)))
            #expect(near(Statistics.max(x), try #require(c["max"] as? Double)))
        }
    }

    static func referenceCase() throws -> (rows: [DatasetRow], outputs: [RequestOutput], duration: Double, expected: [String: Any]) {
        let c = try #require(try BenchFixtures.json("metrics_reference.json")["case"] as? [String: Any])
        let requests = try #require(c["requests"] as? [[String: Any]])
        var rows: [DatasetRow] = []
        var outputs: [RequestOutput] = []
        for r in requests {
            var o = RequestOutput()
            o.success = try #require(r["success"] as? Bool)
            o.startTime = try #require(r["start"] as? Double)
            o.ttft = try #require(r["ttft"] as? Double)
            o.itl = try #require(r["itl"] as? [Double])
            o.latency = try #require(r["latency"] as? Double)
            o.outputLen = o.success ? try #require(r["output_len"] as? Int) : 0
            o.generatedText = try #require(r["generated"] as? String)
            o.promptLen = try #require(r["prompt_len"] as? Int)
            outputs.append(o)
            rows.append(DatasetRow(prompt: .text("p"), promptLen: o.promptLen, outputLen: 1))
        }
        return (rows, outputs, try #require(c["duration"] as? Double), try #require(c["metrics"] as? [String: Any]))
    }

    @Test func metricsMatchTheDocumentedRules() throws {
        let (rows, outputs, duration, e) = try Self.referenceCase()
        let (m, lens) = BenchmarkMetrics.calculate(
            rows: rows, outputs: outputs, duration: duration, tokenizer: ByteTokenizer(), backend: .sglang,
            acceptLength: nil)
        #expect(lens.count == outputs.count && lens[4] == 0)
        #expect(m.completed == e["completed"] as? Int)
        #expect(m.totalInput == e["total_input"] as? Int)
        #expect(m.totalOutput == e["total_output"] as? Int)
        #expect(m.totalOutputRetokenized == e["total_output_retokenized"] as? Int)
        #expect(m.maxConcurrentRequests == e["max_concurrent_requests"] as? Int)
        let pairs: [(Double, String)] = [
            (m.requestThroughput, "request_throughput"), (m.inputThroughput, "input_throughput"),
            (m.outputThroughput, "output_throughput"), (m.totalThroughput, "total_throughput"),
            (m.meanTTFTms, "mean_ttft_ms"), (m.medianTTFTms, "median_ttft_ms"), (m.stdTTFTms, "std_ttft_ms"),
            (m.p99TTFTms, "p99_ttft_ms"), (m.meanTPOTms, "mean_tpot_ms"), (m.medianTPOTms, "median_tpot_ms"),
            (m.stdTPOTms, "std_tpot_ms"), (m.p99TPOTms, "p99_tpot_ms"), (m.meanITLms, "mean_itl_ms"),
            (m.medianITLms, "median_itl_ms"), (m.stdITLms, "std_itl_ms"), (m.p95ITLms, "p95_itl_ms"),
            (m.p99ITLms, "p99_itl_ms"), (m.maxITLms, "max_itl_ms"), (m.meanE2Ems, "mean_e2e_latency_ms"),
            (m.medianE2Ems, "median_e2e_latency_ms"), (m.stdE2Ems, "std_e2e_latency_ms"),
            (m.p99E2Ems, "p99_e2e_latency_ms"), (m.concurrency, "concurrency"),
            (m.maxOutputTokensPerSecond, "max_output_tokens_per_s"),
        ]
        for (value, key) in pairs {
            let expected = try #require(e[key] as? Double, "\(key)")
            #expect(near(value, expected), "\(key): \(value) vs \(expected)")
        }
    }

    @Test func reportMatchesPythonsFormatting() throws {
        let (rows, outputs, duration, _) = try Self.referenceCase()
        let (m, _) = BenchmarkMetrics.calculate(
            rows: rows, outputs: outputs, duration: duration, tokenizer: ByteTokenizer(), backend: .sglang,
            acceptLength: nil)
        let expected = try BenchFixtures.text("report_reference.txt").components(separatedBy: "\u{0C}\n")
        #expect(expected.count == 2)
        let first = Report.render(
            backend: .sglangOAIChat, requestRate: .infinity, maxConcurrency: 16, duration: duration, metrics: m,
            acceptLength: nil)
        #expect(first == expected[0])
        let second = Report.render(
            backend: .sglang, requestRate: 4.0, maxConcurrency: nil, duration: duration, metrics: m, acceptLength: 2.5)
        #expect(second == expected[1])
    }

    @Test func emptyRunSummarisesToZeroesAndNaNWithoutCrashing() {
        var failed = RequestOutput()
        failed.error = "boom"
        let (m, lens) = BenchmarkMetrics.calculate(
            rows: [DatasetRow(prompt: .text("x"), promptLen: 3, outputLen: 4)], outputs: [failed], duration: 2,
            tokenizer: ByteTokenizer(), backend: .sglang, acceptLength: nil)
        #expect(m.completed == 0 && lens == [0] && m.meanTTFTms == 0 && m.meanE2Ems.isNaN)
        #expect(m.maxOutputTokensPerSecond == 0)
    }

    @Test func plotIsASelfContainedSVG() throws {
        let (rows, outputs, duration, _) = try Self.referenceCase()
        let (m, _) = BenchmarkMetrics.calculate(
            rows: rows, outputs: outputs, duration: duration, tokenizer: ByteTokenizer(), backend: .sglang,
            acceptLength: nil)
        let svg = Plot.svg(metrics: m, title: "a <b> & c")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.contains("TTFT distribution") && svg.contains("ITL distribution"))
        #expect(svg.contains("Output throughput over time") && svg.contains("a &lt;b&gt; &amp; c"))
        #expect(!svg.contains("href"))
        // Every token of the run is in a histogram bin of the ITL panel: bins hold all values.
        let bins = Plot.bins(m.itls)
        #expect(bins.counts.reduce(0, +) == m.itls.count)
        // The document is well-formed XML.
        _ = try XMLDocument(data: Data(svg.utf8))
    }
}
