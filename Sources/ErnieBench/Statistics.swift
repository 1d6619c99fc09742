/// NumPy's summary statistics, as `calculate_metrics` uses them.
public enum Statistics {
    public static func mean(_ x: [Double]) -> Double {
        x.isEmpty ? .nan : x.reduce(0, +) / Double(x.count)
    }

    /// Population standard deviation (`np.std`, ddof 0).
    public static func std(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return .nan }
        let m = mean(x)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count)).squareRoot()
    }

    /// `np.percentile(x, p)` with the default linear interpolation between closest ranks.
    public static func percentile(_ x: [Double], _ p: Double) -> Double {
        guard !x.isEmpty else { return .nan }
        let sorted = x.sorted()
        return percentileOfSorted(sorted, p)
    }

    static func percentileOfSorted(_ sorted: [Double], _ p: Double) -> Double {
        let position = p / 100 * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    public static func median(_ x: [Double]) -> Double { percentile(x, 50) }

    public static func max(_ x: [Double]) -> Double { x.max() ?? .nan }

    /// SGLang writes `np.mean(values or 0)`: an empty list summarises to 0.
    static func orZero(_ x: [Double]) -> [Double] { x.isEmpty ? [0] : x }
}
