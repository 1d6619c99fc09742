/// Generated tokens per second over a sliding window.
struct ThroughputMeter: Sendable {
    let window: Duration
    let started: ContinuousClock.Instant
    private var samples: [(time: ContinuousClock.Instant, tokens: Int)] = []

    init(window: Duration = .seconds(5), now: ContinuousClock.Instant = .now) {
        self.window = window
        started = now
    }

    mutating func record(_ tokens: Int, at time: ContinuousClock.Instant = .now) {
        guard tokens > 0 else { return }
        samples.append((time, tokens))
        let cutoff = time - window
        if let keep = samples.firstIndex(where: { $0.time > cutoff }), keep > 0 { samples.removeFirst(keep) }
    }

    /// Tokens per second over the last `window` (or since start, when that is shorter).
    func rate(at now: ContinuousClock.Instant = .now) -> Double {
        let cutoff = now - window
        let tokens = samples.reduce(0) { $0 + ($1.time > cutoff ? $1.tokens : 0) }
        let span = min(window, now - started)
        let seconds = Double(span.components.seconds) + Double(span.components.attoseconds) * 1e-18
        return seconds > 0 ? Double(tokens) / seconds : 0
    }
}
