/// SGLang's `BenchmarkMetrics`: the aggregate numbers of one run. Latencies are in milliseconds.
public struct BenchmarkMetrics: Sendable, Equatable {
    public var completed = 0
    public var totalInput = 0
    public var totalInputText = 0
    public var totalInputVision = 0
    public var totalOutput = 0
    public var totalOutputRetokenized = 0
    public var requestThroughput = 0.0
    public var inputThroughput = 0.0
    public var outputThroughput = 0.0
    public var outputThroughputRetokenized = 0.0
    public var totalThroughput = 0.0
    public var totalThroughputRetokenized = 0.0
    public var meanTTFTms = 0.0, medianTTFTms = 0.0, stdTTFTms = 0.0, p99TTFTms = 0.0
    public var meanTPOTms = 0.0, medianTPOTms = 0.0, stdTPOTms = 0.0, p99TPOTms = 0.0
    public var meanITLms = 0.0, medianITLms = 0.0, stdITLms = 0.0, p95ITLms = 0.0, p99ITLms = 0.0, maxITLms = 0.0
    public var meanE2Ems = 0.0, medianE2Ems = 0.0, stdE2Ems = 0.0, p99E2Ems = 0.0
    /// Σ latencies / duration: the average number of requests in flight.
    public var concurrency = 0.0
    /// The most output tokens in one 1-second bucket.
    public var maxOutputTokensPerSecond = 0.0
    /// The most requests in flight during one 1-second bucket.
    public var maxConcurrentRequests = 0
    /// Output tokens per 1-second bucket from the first request's start (for `--plot`).
    public var tokensPerSecond: [Double] = []
    /// Requests in flight per 1-second bucket.
    public var concurrentRequestsPerSecond: [Double] = []
    /// The successful requests' TTFTs and every ITL, in seconds (for `--plot`).
    public var ttfts: [Double] = []
    public var itls: [Double] = []

    public init() {}

    /// `calculate_metrics`: outputs and rows correspond one to one; `duration` is the benchmark's wall time in
    /// seconds. Returns the metrics and the per-request output lengths (0 for failures).
    public static func calculate(
        rows: [DatasetRow], outputs: [RequestOutput], duration: Double, tokenizer: any BenchTokenizer,
        backend: BenchBackend, acceptLength: Double?
    ) -> (BenchmarkMetrics, [Int]) {
        var m = BenchmarkMetrics()
        var outputLens: [Int] = []
        var retokenized: [Int] = []
        var itls: [Double] = []
        var tpots: [Double] = []
        var ttfts: [Double] = []
        var e2e: [Double] = []
        let retokenizeITL =
            (acceptLength ?? 0) > 0 && (backend == .sglangOAI || backend == .sglangOAIChat)
        for (i, output) in outputs.enumerated() {
            guard output.success else {
                outputLens.append(0)
                retokenized.append(0)
                continue
            }
            outputLens.append(output.outputLen)
            retokenized.append(tokenizer.encodeText(output.generatedText).count)
            if i < rows.count {
                m.totalInput += rows[i].promptLen
                m.totalInputText += rows[i].promptLen
            }
            if output.outputLen > 1 {
                tpots.append((output.latency - output.ttft) / Double(output.outputLen - 1))
            }
            if retokenizeITL {
                for (k, gap) in output.itl.enumerated() where k < output.textChunks.count {
                    let n = tokenizer.encodeText(output.textChunks[k]).count
                    if n > 0 { itls.append(contentsOf: repeatElement(gap / Double(n), count: n)) }
                }
            } else {
                itls += output.itl
            }
            ttfts.append(output.ttft)
            e2e.append(output.latency)
            m.completed += 1
        }
        m.totalOutput = outputLens.reduce(0, +)
        m.totalOutputRetokenized = retokenized.reduce(0, +)
        m.requestThroughput = Double(m.completed) / duration
        m.inputThroughput = Double(m.totalInput) / duration
        m.outputThroughput = Double(m.totalOutput) / duration
        m.outputThroughputRetokenized = Double(m.totalOutputRetokenized) / duration
        m.totalThroughput = Double(m.totalInput + m.totalOutput) / duration
        m.totalThroughputRetokenized = Double(m.totalInput + m.totalOutputRetokenized) / duration
        let t = Statistics.orZero(ttfts), p = Statistics.orZero(tpots), l = Statistics.orZero(itls)
        m.meanTTFTms = Statistics.mean(t) * 1000
        m.medianTTFTms = Statistics.median(t) * 1000
        m.stdTTFTms = Statistics.std(t) * 1000
        m.p99TTFTms = Statistics.percentile(t, 99) * 1000
        m.meanTPOTms = Statistics.mean(p) * 1000
        m.medianTPOTms = Statistics.median(p) * 1000
        m.stdTPOTms = Statistics.std(p) * 1000
        m.p99TPOTms = Statistics.percentile(p, 99) * 1000
        m.meanITLms = Statistics.mean(l) * 1000
        m.medianITLms = Statistics.median(l) * 1000
        m.stdITLms = Statistics.std(l) * 1000
        m.p95ITLms = Statistics.percentile(l, 95) * 1000
        m.p99ITLms = Statistics.percentile(l, 99) * 1000
        m.maxITLms = Statistics.max(l) * 1000
        m.meanE2Ems = Statistics.mean(e2e) * 1000
        m.medianE2Ems = Statistics.median(e2e) * 1000
        m.stdE2Ems = Statistics.std(e2e) * 1000
        m.p99E2Ems = Statistics.percentile(e2e, 99) * 1000
        m.concurrency = e2e.reduce(0, +) / duration
        m.ttfts = ttfts
        m.itls = itls
        m.computePeaks(outputs.filter(\.success))
        return (m, outputLens)
    }

    /// Peak output throughput and peak concurrency over 1-second buckets from the earliest start.
    mutating func computePeaks(_ successful: [RequestOutput]) {
        guard let first = successful.map(\.startTime).min(),
            let last = successful.map({ $0.startTime + $0.latency }).max()
        else { return }
        let buckets = Int((last - first).rounded(.up)) + 1
        guard buckets > 0, buckets < 100_000_000 else { return }
        var tokens = [Double](repeating: 0, count: buckets)
        var concurrent = [Double](repeating: 0, count: buckets)
        for output in successful {
            var time = output.startTime + output.ttft
            var times = [time]
            for gap in output.itl {
                time += gap
                times.append(time)
            }
            for tokenTime in times {
                let bucket = Int((tokenTime - first).rounded(.towardZero))
                if bucket >= 0 && bucket < buckets { tokens[bucket] += 1 }
            }
            let startSecond = Int((output.startTime - first).rounded(.towardZero))
            let endSecond = Int((output.startTime + output.latency - first).rounded(.towardZero))
            if startSecond <= min(endSecond + 1, buckets) - 1 {
                for second in startSecond..<min(endSecond + 1, buckets) { concurrent[second] += 1 }
            }
        }
        maxOutputTokensPerSecond = tokens.max() ?? 0
        maxConcurrentRequests = Int(concurrent.max() ?? 0)
        tokensPerSecond = tokens
        concurrentRequestsPerSecond = concurrent
    }
}
