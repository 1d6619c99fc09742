public import ErnieRuntime
import Metrics
public import Prometheus

/// The Prometheus metrics served at `/metrics` (SGLang's set, `ernie:` prefix, label `model_name`), recorded through
/// swift-metrics into a registry owned by this server.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    let runningRequests: Metrics.Gauge
    let queuedRequests: Metrics.Gauge
    let usedTokens: Metrics.Gauge
    let maxTotalTokens: Metrics.Gauge
    let tokenUsage: Metrics.Gauge
    let cacheHitRate: Metrics.Gauge
    let generationThroughput: Metrics.Gauge

    let promptTokens: Metrics.Counter
    let generationTokens: Metrics.Counter
    let cachedTokens: Metrics.Counter
    let requests: Metrics.Counter

    let timeToFirstToken: Metrics.Timer
    let interTokenLatency: Metrics.Timer
    let endToEndLatency: Metrics.Timer

    /// Bucket edges in seconds (SGLang's defaults).
    static let timeToFirstTokenBuckets: [Double] = [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 15, 20, 25, 30, 60, 120,
    ]
    static let interTokenLatencyBuckets: [Double] = [
        0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.06, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8,
        1, 2, 4, 6, 8,
    ]
    static let endToEndBuckets: [Double] = [
        0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 800,
    ]

    public init(modelName: String, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        func durations(_ seconds: [Double]) -> [Duration] {
            seconds.map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
        }
        factory.durationHistogramBuckets = [
            "ernie:time_to_first_token_seconds": durations(Self.timeToFirstTokenBuckets),
            "ernie:inter_token_latency_seconds": durations(Self.interTokenLatencyBuckets),
            "ernie:e2e_request_latency_seconds": durations(Self.endToEndBuckets),
        ]
        let labels = [("model_name", modelName)]
        func gauge(_ name: String) -> Metrics.Gauge {
            Metrics.Gauge(label: "ernie:" + name, dimensions: labels, factory: factory)
        }
        func counter(_ name: String) -> Metrics.Counter {
            Metrics.Counter(label: "ernie:" + name, dimensions: labels, factory: factory)
        }
        func timer(_ name: String) -> Metrics.Timer {
            Metrics.Timer(label: "ernie:" + name, dimensions: labels, factory: factory)
        }
        runningRequests = gauge("num_running_reqs")
        queuedRequests = gauge("num_queue_reqs")
        usedTokens = gauge("num_used_tokens")
        maxTotalTokens = gauge("max_total_num_tokens")
        tokenUsage = gauge("token_usage")
        cacheHitRate = gauge("cache_hit_rate")
        generationThroughput = gauge("gen_throughput")
        promptTokens = counter("prompt_tokens_total")
        generationTokens = counter("generation_tokens_total")
        cachedTokens = counter("cached_tokens_total")
        requests = counter("num_requests_total")
        timeToFirstToken = timer("time_to_first_token_seconds")
        interTokenLatency = timer("inter_token_latency_seconds")
        endToEndLatency = timer("e2e_request_latency_seconds")
    }

    /// Copies the engine's gauges (called when `/metrics` is scraped).
    public func update(from stats: EngineStats) {
        runningRequests.record(stats.runningRequests)
        queuedRequests.record(stats.queuedRequests)
        usedTokens.record(stats.usedTokens)
        maxTotalTokens.record(stats.totalTokens)
        tokenUsage.record(stats.tokenUsage)
        cacheHitRate.record(stats.cacheHitRate)
        generationThroughput.record(stats.generationThroughput)
    }

    /// The Prometheus text exposition of every metric.
    public func render(stats: EngineStats) -> String {
        update(from: stats)
        return registry.emitToString()
    }

    /// Records one finished engine request.
    func recordFinished(promptTokens prompt: Int, completionTokens: Int, cachedTokens cached: Int, e2e: Duration) {
        promptTokens.increment(by: Int64(prompt))
        generationTokens.increment(by: Int64(completionTokens))
        cachedTokens.increment(by: Int64(cached))
        requests.increment()
        endToEndLatency.record(duration: e2e)
    }

    func recordTimeToFirstToken(_ duration: Duration) {
        timeToFirstToken.record(duration: duration)
    }

    func recordInterTokenLatency(_ duration: Duration) {
        interTokenLatency.record(duration: duration)
    }
}

extension Metrics.Timer {
    func record(duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
