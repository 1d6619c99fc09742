import Foundation
import Synchronization

/// A tqdm-style progress bar on stderr: `45%|████▌     | 45/100 [00:12<00:15,  3.62it/s]`. On a terminal it redraws
/// in place at most ten times a second; otherwise it prints a line at every tenth of the way.
public final class ProgressBar: Sendable {
    private struct State {
        var done = 0
        var lastDraw = 0.0
        var lastDecile = -1
    }

    private let total: Int
    private let enabled: Bool
    private let isTerminal: Bool
    private let start: Double
    private let state = Mutex(State())

    public init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled && total > 0
        self.isTerminal = isatty(STDERR_FILENO) != 0
        self.start = BenchClock.now()
        if self.enabled { draw(done: 0, now: start) }
    }

    /// Counts one finished request.
    public func increment() {
        guard enabled else { return }
        let now = BenchClock.now()
        let toDraw: Int? = state.withLock { s in
            s.done += 1
            if isTerminal {
                guard s.done == total || now - s.lastDraw >= 0.1 else { return nil }
                s.lastDraw = now
                return s.done
            }
            let decile = s.done * 10 / total
            guard decile > s.lastDecile else { return nil }
            s.lastDecile = decile
            return s.done
        }
        if let toDraw { draw(done: toDraw, now: now) }
    }

    /// Ends the bar's line.
    public func close() {
        guard enabled, isTerminal else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }

    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return "?" }
        let s = Int(seconds)
        let text = String(format: "%02d:%02d", (s / 60) % 60, s % 60)
        return s >= 3600 ? "\(s / 3600):" + text : text
    }

    static func line(done: Int, total: Int, elapsed: Double) -> String {
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let width = 20
        let eighths = Int((fraction * Double(width * 8)).rounded(.down))
        let partials = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        var bar = String(repeating: "█", count: eighths / 8)
        if eighths / 8 < width { bar += partials[eighths % 8] }
        bar += String(repeating: " ", count: max(0, width - bar.count))
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(total - done) / rate : .nan
        let percent = String(format: "%3d%%", Int(fraction * 100))
        return "\(percent)|\(bar)| \(done)/\(total) [\(clock(elapsed))<\(clock(remaining)), "
            + String(format: "%.2fit/s]", rate)
    }

    private func draw(done: Int, now: Double) {
        let text = ProgressBar.line(done: done, total: total, elapsed: now - start)
        FileHandle.standardError.write(Data((isTerminal ? "\r" + text : text + "\n").utf8))
    }
}
