import MemdriftAnalysis
import MemdriftCore

/// The human report of a session: verdict, per-process trends and suspects.
public struct ReportText {
    /// Frames printed per call site.
    public var framesPerCallSite = 6

    /// Creates a renderer with the default limits.
    public init() {}

    /// The report text.
    public func render(_ analysis: SessionAnalysis) -> String {
        var out = "memdrift report: \(analysis.path)\n"
        let leaking = analysis.processes.filter { $0.verdict == .leak }.count
        out += "verdict: \(analysis.verdict.rawValue)"
        out += analysis.processes.count > 1 ? " (\(leaking) of \(analysis.processes.count) processes leak)\n" : "\n"
        for p in analysis.processes { out += "\n" + process(p) }
        return out
    }

    private func process(_ p: ProcessAnalysis) -> String {
        var out = "pid \(p.series.pid)\(p.series.image > 1 ? " (image \(p.series.image))" : ""): \(p.command)\n"
        out += "  verdict: \(p.verdict.rawValue)\(p.isSampled ? " (sampled: figures are estimates)" : "")\n"
        out +=
            "  \(p.snapshotCount) snapshots over \(Units.formatDuration(p.durationSeconds)), warm-up \(Units.formatDuration(p.warmupSeconds)) excluded\n"
        out += "  heap \(trendLine(p.heapStart, p.heapEnd, p.heap))\n"
        out += "  rss  \(trendLine(p.rssStart, p.rssEnd, p.rss)), peak \(Units.formatBytes(p.rssPeak))\n"
        if !p.suspects.isEmpty {
            out += "  leak suspects:\n"
            for (i, s) in p.suspects.enumerated() { out += callSite(s, number: i + 1) }
        }
        if !p.otherGrowers.isEmpty {
            out += "  other growth (not leaks):\n"
            for (i, s) in p.otherGrowers.prefix(5).enumerated() { out += callSite(s, number: i + 1) }
        }
        return out
    }

    private func trendLine(_ start: UInt64, _ end: UInt64, _ t: GrowthTrend) -> String {
        let change = "\(Units.formatBytes(start)) -> \(Units.formatBytes(end))"
        guard !t.isInsufficientData else { return "\(change) (too few snapshots after warm-up to judge)" }
        return "\(change), \(Units.formatDelta(Int64(t.slopePerHour)))/h, \(t.classification.rawValue)"
    }

    private func callSite(_ s: CallSiteTrend, number: Int) -> String {
        var head = "    \(number). \(s.trend.classification.rawValue) \(Units.formatDelta(s.growthBytes))"
        head += " (\(s.growthCount >= 0 ? "+" : "")\(s.growthCount) blocks), \(Units.formatDelta(Int64(s.trend.slopePerHour)))/h"
        if let pattern = s.suppressedBy { head += ", suppressed by leak:\(pattern)" }
        var out = head + "\n"
        for f in s.frames.prefix(framesPerCallSite) { out += "         \(f.displayName)\n" }
        if s.frames.count > framesPerCallSite { out += "         ...\n" }
        return out
    }
}

/// `report --json`: the `memdrift.report/1` document of docs/json.md.
public enum ReportJSON {
    struct Document: Encodable {
        let schema = "memdrift.report/1"
        let session: String
        let verdict: String
        let processes: [Process]
    }

    struct Process: Encodable {
        let pid: Int32
        let image: Int
        let command: String
        let verdict: String
        let snapshots: Int
        let duration_seconds: Double
        let warmup_seconds: Double
        let sampled: Bool
        let heap: Figure
        let rss: Figure
        let suspects: [Site]
        let other_growth: [Site]
    }

    struct Figure: Encodable {
        let start_bytes: UInt64
        let end_bytes: UInt64
        let peak_bytes: UInt64
        let slope_bytes_per_hour: Double
        let classification: String
        let p_value: Double
        let insufficient_data: Bool
    }

    struct Site: Encodable {
        let classification: String
        let growth_bytes: Int64
        let growth_count: Int64
        let live_bytes: UInt64
        let slope_bytes_per_hour: Double
        let p_value: Double
        let suppressed_by: String?
        let frames: [JSONFrame]
    }

    /// The JSON text.
    public static func render(_ analysis: SessionAnalysis) -> String {
        JSONOutput.encode(
            Document(session: analysis.path, verdict: analysis.verdict.rawValue, processes: analysis.processes.map(process)))
    }

    static func process(_ p: ProcessAnalysis) -> Process {
        Process(
            pid: p.series.pid, image: p.series.image, command: p.command, verdict: p.verdict.rawValue, snapshots: p.snapshotCount,
            duration_seconds: p.durationSeconds, warmup_seconds: p.warmupSeconds, sampled: p.isSampled,
            heap: figure(p.heapStart, p.heapEnd, p.heapValues.max().map { UInt64($0) } ?? 0, p.heap),
            rss: figure(p.rssStart, p.rssEnd, p.rssPeak, p.rss),
            suspects: p.suspects.map(site), other_growth: p.otherGrowers.map(site))
    }

    static func figure(_ start: UInt64, _ end: UInt64, _ peak: UInt64, _ t: GrowthTrend) -> Figure {
        Figure(
            start_bytes: start, end_bytes: end, peak_bytes: peak, slope_bytes_per_hour: t.slopePerHour,
            classification: t.classification.rawValue, p_value: t.pValue, insufficient_data: t.isInsufficientData)
    }

    static func site(_ s: CallSiteTrend) -> Site {
        Site(
            classification: s.trend.classification.rawValue, growth_bytes: s.growthBytes, growth_count: s.growthCount,
            live_bytes: s.bytesAtEnd, slope_bytes_per_hour: s.trend.slopePerHour, p_value: s.trend.pValue,
            suppressed_by: s.suppressedBy, frames: s.frames.map(JSONFrame.init))
    }
}
