import Foundation

/// `--plot FILE.svg`: a self-contained SVG with the TTFT and ITL distributions (histograms, milliseconds) and the
/// output token throughput per second over the run (with the requests in flight).
public enum Plot {
    static let panelWidth = 420.0
    static let panelHeight = 260.0
    static let margin = (left: 60.0, right: 20.0, top: 36.0, bottom: 44.0)

    public static func svg(metrics: BenchmarkMetrics, title: String) -> String {
        let width = panelWidth * 3
        let height = panelHeight + 40
        var body = ""
        body += text(x: 12, y: 24, title, size: 16, anchor: "start", weight: "bold")
        body += histogram(
            metrics.ttfts.map { $0 * 1000 }, title: "TTFT distribution", xLabel: "TTFT (ms)", originX: 0, originY: 40)
        body += histogram(
            metrics.itls.map { $0 * 1000 }, title: "ITL distribution", xLabel: "ITL (ms)", originX: panelWidth,
            originY: 40)
        body += timeline(
            metrics.tokensPerSecond, secondary: metrics.concurrentRequestsPerSecond, originX: 2 * panelWidth,
            originY: 40)
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            \(body)</svg>

            """
    }

    /// Equal-width bins between the minimum and the maximum (at most 40, about √n).
    static func bins(_ values: [Double]) -> (low: Double, width: Double, counts: [Int]) {
        guard let low = values.min(), let high = values.max() else { return (0, 1, []) }
        let count = max(1, min(40, Int(Double(values.count).squareRoot().rounded(.up))))
        let width = high > low ? (high - low) / Double(count) : 1
        var counts = [Int](repeating: 0, count: count)
        for v in values {
            let k = min(count - 1, max(0, Int(((v - low) / width).rounded(.down))))
            counts[k] += 1
        }
        return (low, width, counts)
    }

    static func histogram(_ values: [Double], title: String, xLabel: String, originX: Double, originY: Double)
        -> String
    {
        var out = frame(title: title, xLabel: xLabel, yLabel: "requests / tokens", originX: originX, originY: originY)
        let (low, width, counts) = bins(values)
        guard let top = counts.max(), top > 0 else {
            return out + text(x: originX + panelWidth / 2, y: originY + panelHeight / 2, "no data", size: 12)
        }
        let area = plotArea(originX: originX, originY: originY)
        let barWidth = area.width / Double(counts.count)
        for (k, c) in counts.enumerated() where c > 0 {
            let h = area.height * Double(c) / Double(top)
            out += String(
                format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4C78A8\"/>\n",
                area.x + Double(k) * barWidth + 0.5, area.y + area.height - h, max(0.5, barWidth - 1), h)
        }
        out += axisTicks(
            area: area, xLow: low, xHigh: low + width * Double(counts.count), yHigh: Double(top))
        return out
    }

    static func timeline(_ tokens: [Double], secondary: [Double], originX: Double, originY: Double) -> String {
        var out = frame(
            title: "Output throughput over time", xLabel: "time (s)", yLabel: "tokens / s", originX: originX,
            originY: originY)
        guard tokens.count > 0, let top = tokens.max(), top > 0 else {
            return out + text(x: originX + panelWidth / 2, y: originY + panelHeight / 2, "no data", size: 12)
        }
        let area = plotArea(originX: originX, originY: originY)
        let step = area.width / Double(max(1, tokens.count))
        func polyline(_ series: [Double], scale: Double, color: String, dash: String) -> String {
            let points = series.enumerated().map { k, v in
                String(format: "%.1f,%.1f", area.x + (Double(k) + 0.5) * step, area.y + area.height * (1 - v / scale))
            }
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" stroke-dasharray=\"\(dash)\" "
                + "points=\"\(points.joined(separator: " "))\"/>\n"
        }
        out += polyline(tokens, scale: top, color: "#F58518", dash: "none")
        if let peak = secondary.max(), peak > 0 {
            out += polyline(secondary, scale: peak, color: "#54A24B", dash: "4,3")
            out += text(
                x: area.x + area.width, y: area.y - 6, "dashed: requests in flight (peak \(Int(peak)))", size: 10,
                anchor: "end", color: "#54A24B")
        }
        out += axisTicks(area: area, xLow: 0, xHigh: Double(tokens.count), yHigh: top)
        return out
    }

    static func plotArea(originX: Double, originY: Double) -> (x: Double, y: Double, width: Double, height: Double) {
        (
            originX + margin.left, originY + margin.top, panelWidth - margin.left - margin.right,
            panelHeight - margin.top - margin.bottom
        )
    }

    static func frame(title: String, xLabel: String, yLabel: String, originX: Double, originY: Double) -> String {
        let a = plotArea(originX: originX, originY: originY)
        var out = text(x: originX + panelWidth / 2, y: originY + 20, title, size: 13, weight: "bold")
        out += String(
            format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n",
            a.x, a.y, a.width, a.height)
        out += text(x: a.x + a.width / 2, y: a.y + a.height + 36, xLabel, size: 11)
        out += String(
            format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" "
                + "transform=\"rotate(-90 %.1f %.1f)\">",
            originX + 14, a.y + a.height / 2, originX + 14, a.y + a.height / 2) + escape(yLabel) + "</text>\n"
        return out
    }

    static func axisTicks(
        area: (x: Double, y: Double, width: Double, height: Double), xLow: Double, xHigh: Double, yHigh: Double
    ) -> String {
        var out = ""
        for k in 0...4 {
            let f = Double(k) / 4
            out += text(x: area.x + f * area.width, y: area.y + area.height + 16, label(xLow + f * (xHigh - xLow)), size: 10)
            out += text(x: area.x - 6, y: area.y + area.height * (1 - f) + 4, label(f * yHigh), size: 10, anchor: "end")
        }
        return out
    }

    static func label(_ v: Double) -> String {
        abs(v) >= 100 ? String(format: "%.0f", v) : abs(v) >= 10 ? String(format: "%.1f", v) : String(format: "%.2f", v)
    }

    static func text(
        x: Double, y: Double, _ s: String, size: Int, anchor: String = "middle", weight: String = "normal",
        color: String = "#222"
    ) -> String {
        String(format: "<text x=\"%.1f\" y=\"%.1f\" ", x, y)
            + "font-size=\"\(size)\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\" fill=\"\(color)\">"
            + escape(s) + "</text>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
