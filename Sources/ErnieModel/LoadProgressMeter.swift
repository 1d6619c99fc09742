import Foundation

/// Shows `WeightLoadProgress` to a person: on a terminal a bar redrawn in place (at most ten times a second),
/// otherwise one log line at every tenth of the way, so logs stay short. Nothing is shown during the first
/// `delay` seconds (a small model loads without a bar); `finish` always writes the load time and rate.
///
///     ernie: loading weights  42%|████████▍           | 18.3/43.6 GB [00:09<00:12, 2.03 GB/s]
///     ernie: loading weights  40% (17.4/43.6 GB, 8.6 s)
///
/// Used from the loading thread only.
public final class LoadProgressMeter {
    private let label: String
    private let isTerminal: Bool
    private let write: (String) -> Void
    private let clock: () -> Double
    private let start: Double
    private let delay: Double
    private var lastDraw = -Double.infinity
    private var lastDecile = -1
    private var lastLoaded = 0
    /// When the first complete report arrived (the load time `finish` reports, whatever ran after it).
    private var completedAt: Double?
    private var drewBar = false

    /// - Parameters:
    ///   - isTerminal: redraw one line with `\r` (a TTY) instead of printing a line per tenth.
    ///   - write: where text goes (stderr in the CLI).
    ///   - delay: seconds after which progress starts to show.
    ///   - clock: seconds, monotonic (tests pass their own).
    public init(
        label: String = "ernie: loading weights", isTerminal: Bool, delay: Double = 0.5,
        write: @escaping (String) -> Void, clock: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime }
    ) {
        self.label = label
        self.isTerminal = isTerminal
        self.delay = delay
        self.write = write
        self.clock = clock
        start = clock()
    }

    /// A meter on stderr that draws a bar when stderr is a terminal.
    public static func standardError(label: String = "ernie: loading weights") -> LoadProgressMeter {
        LoadProgressMeter(label: label, isTerminal: isatty(STDERR_FILENO) != 0) { text in
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// Feeds one report (pass this as the loader's progress handler).
    public func update(_ progress: WeightLoadProgress) {
        let now = clock()
        lastLoaded = progress.bytesLoaded
        if progress.isComplete, completedAt == nil { completedAt = now }
        guard now - start >= delay else { return }
        if isTerminal {
            guard progress.isComplete || now - lastDraw >= 0.1 else { return }
            lastDraw = now
            drewBar = true
            write("\r" + Self.bar(progress, elapsed: now - start, label: label))
            return
        }
        let decile = Int(progress.fraction * 10)
        guard decile > lastDecile else { return }
        lastDecile = decile
        write(Self.line(progress, elapsed: now - start, label: label) + "\n")
    }

    /// The handler to give `WeightLoader` / `ErnieForward.load`.
    public var handler: WeightLoadProgressHandler { { [self] in update($0) } }

    /// Ends the bar and writes `ernie: weights on <device>: 43.6 GB in 21.5 s (2.03 GB/s)`, timed up to the last
    /// weight (or up to now when the load never reported completion).
    public func finish(device: String) {
        let seconds = (completedAt ?? clock()) - start
        if drewBar { write("\n") }
        let rate = seconds > 0 ? Double(lastLoaded) / 1e9 / seconds : 0
        write(String(
            format: "ernie: weights on %@: %@ in %.1f s (%.2f GB/s)\n", device, Self.gigabytes(lastLoaded), seconds,
            rate))
    }

    static func gigabytes(_ bytes: Int) -> String {
        bytes >= 100_000_000 ? String(format: "%.1f GB", Double(bytes) / 1e9)
            : String(format: "%.1f MB", Double(bytes) / 1e6)
    }

    static func line(_ p: WeightLoadProgress, elapsed: Double, label: String) -> String {
        String(format: "%@ %3d%% (%@, %.1f s)", label, Int(p.fraction * 100), amounts(p), elapsed)
    }

    static func bar(_ p: WeightLoadProgress, elapsed: Double, label: String) -> String {
        let width = 20
        let eighths = Int(p.fraction * Double(width * 8))
        let partials = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        var bar = String(repeating: "█", count: eighths / 8)
        if eighths / 8 < width { bar += partials[eighths % 8] }
        bar += String(repeating: " ", count: max(0, width - bar.count))
        let rate = elapsed > 0 ? Double(p.bytesLoaded) / elapsed : 0
        let remaining = rate > 0 ? Double(p.bytesTotal - p.bytesLoaded) / rate : .nan
        return String(format: "%@ %3d%%|", label, Int(p.fraction * 100)) + bar
            + "| \(amounts(p)) "
            + "[\(clockText(elapsed))<\(clockText(remaining)), " + String(format: "%.2f GB/s]", rate / 1e9)
    }

    /// `loaded/total unit`, in the unit that suits `total` (GB from 100 MB up, else MB).
    private static func amounts(_ p: WeightLoadProgress) -> String {
        let inGB = p.bytesTotal >= 100_000_000
        let scale = inGB ? 1e9 : 1e6
        return String(
            format: "%.1f/%.1f %@", Double(p.bytesLoaded) / scale, Double(p.bytesTotal) / scale, inGB ? "GB" : "MB")
    }

    private static func clockText(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 1e7 else { return "?" }
        let s = Int(seconds)
        return String(format: "%02d:%02d", s / 60, s % 60)
    }
}
