import MemdriftAnalysis
import MemdriftCore

/// The human report of a session: verdict, per-process trends and suspects.
public struct ReportText {
    /// Frames printed per call site.
    public var framesPerCallSite = 6
    /// Other (non-leak) growing call sites printed per process.
    public var otherGrowthShown = 5

    /// Creates a renderer with the default limits.
    public init() {}

    /// The report text.
    public func render(_ analysis: SessionAnalysis) -> String {
        var out = "memdrift report: \(analysis.path)\n"
        let leaking = analysis.processes.filter { $0.verdict == .leak }.count
        out += "verdict: \(analysis.verdict.rawValue)"
        out += analysis.processes.count > 1 ? " (\(leaking) of \(plural(analysis.processes.count, "process")) leak)\n" : "\n"
        for warning in analysis.warnings { out += "warning: \(warning)\n" }
        let (shown, folded) = ReportLayout.split(analysis.processes)
        for p in shown { out += "\n" + process(p) }
        if let line = ReportLayout.foldedLine(folded) { out += "\n" + line + "\n" }
        return out
    }

    private func process(_ p: ProcessAnalysis) -> String {
        var out = "\(ReportLayout.title(p))\n"
        out += "  verdict: \(p.verdict.rawValue): \(p.reason)\(p.isSampled ? " (sampled: figures are estimates)" : "")\n"
        out += "  sources: \(p.sources.map(\.title).joined(separator: ", "))\n"
        out += "  \(ReportLayout.span(p))\n"
        for m in ReportLayout.shownMetrics(p) { out += "  \(ReportLayout.metricLine(m))\n" }
        if let line = ReportLayout.explanationLine(p) { out += "  \(line)\n" }
        if !p.suspects.isEmpty {
            out += "  leak suspects:\n"
            for (i, s) in p.suspects.enumerated() { out += callSite(s, number: i + 1) }
        }
        if !p.otherGrowth.isEmpty {
            out += "  other growth (not leaks):\n"
            for (i, s) in p.otherGrowth.prefix(otherGrowthShown).enumerated() { out += callSite(s, number: i + 1) }
            if p.otherGrowth.count > otherGrowthShown {
                out += "    (\(plural(p.otherGrowth.count - otherGrowthShown, "more call site")); --json lists them all)\n"
            }
        }
        return out
    }

    private func callSite(_ s: SiteAnalysis, number: Int) -> String {
        var out = "    \(number). \(ReportLayout.siteHeadline(s))\n"
        for f in s.frames.prefix(framesPerCallSite) { out += "         \(f.displayName)\n" }
        if s.frames.isEmpty { out += "         [no stack]\n" }
        if s.frames.count > framesPerCallSite { out += "         ...\n" }
        return out
    }
}

/// The wording and layout every renderer shares, so text, HTML and the run summary say the same thing.
public enum ReportLayout {
    /// `pid 42 (image 2): command`.
    public static func title(_ p: ProcessAnalysis) -> String {
        "pid \(p.pid)\(p.image > 1 ? " (image \(p.image))" : ""): \(p.command)"
    }

    /// `45 snapshots over 44s, warm-up 4.4s excluded; a final snapshot at exit, not judged`, or
    /// `...; 2 snapshots of the teardown and the final one at exit, not judged`.
    public static func span(_ p: ProcessAnalysis) -> String {
        var text = "\(plural(p.judgedCount, "snapshot")) over \(Units.formatDuration(p.durationSeconds))"
        text += ", warm-up \(Units.formatDuration(p.warmupSeconds)) excluded"
        let teardown = p.sampleCount - p.judgedCount
        if teardown > 0, let reason = p.lastReason {
            let end = reason == .exec ? "exec" : "exit"
            text +=
                p.teardownCount == 0
                ? "; a final snapshot at \(end), not judged"
                : "; \(plural(p.teardownCount, "snapshot")) of the teardown and the final one at \(end), not judged"
        }
        return text
    }

    /// The metrics a report lists: the attributed ones, then RSS (its parts only when they matter).
    /// An attributed metric that never held anything (mapped memory of a program that maps none) is
    /// left out while another one is shown; the sources line still names it.
    public static func shownMetrics(_ p: ProcessAnalysis) -> [MetricAnalysis] {
        let attributed = p.metrics.values.filter(\.isAttributed).sorted { $0.metric < $1.metric }
        let held = attributed.filter { $0.peak != 0 || ($0.atTeardown ?? 0) != 0 || $0.values.contains { $0 != 0 } }
        var shown = held.isEmpty ? attributed : held
        if let rss = p.rss { shown.append(rss) }
        if let shmem = p.metrics[.rssShmem], shmem.trend.classification == .leak, !shmem.trend.isInsufficientData {
            shown.append(shmem)
        }
        return shown
    }

    /// `heap   6.1 MiB -> 2.3 MiB, sawtooth, floor +20.5 MiB/h; 4.0 KiB at exit`.
    public static func metricLine(_ m: MetricAnalysis) -> String {
        "\(m.metric.title.padding(to: 6)) \(metricFigures(m))"
    }

    /// `metricLine` without the metric's name.
    public static func metricFigures(_ m: MetricAnalysis) -> String {
        var line = "\(Units.formatBytes(m.start)) -> \(Units.formatBytes(m.end))" + trendWords(m.trend)
        // What verdicts and gates judge, when it differs: shared memory or accepted call sites taken out.
        if let own = m.ownTrend,
            own.classification != m.trend.classification || own.isInsufficientData != m.trend.isInsufficientData
        {
            line += "; \(m.metric == .rss ? "own (without shared memory)" : "without accepted call sites")"
            line += trendWords(own)
        }
        if m.metric == .rss { line += ", peak \(Units.formatBytes(m.peak))" }
        if let teardown = m.atTeardown { line += "; \(Units.formatBytes(teardown)) at exit" }
        return line
    }

    /// `, +1.2 MiB/h, leak` or `, sawtooth, floor +20 MiB/h`; the insufficient case says so.
    public static func trendWords(_ t: GrowthTrend) -> String {
        guard !t.isInsufficientData else { return " (too few snapshots after warm-up to judge)" }
        if t.cycles != nil {
            return ", \(t.classification.rawValue), floor \(Units.formatDelta(Int64(t.sustainedSlopePerHour)))/h"
        }
        return ", \(Units.formatDelta(Int64(t.slopePerHour)))/h, \(t.classification.rawValue)"
    }

    /// `rss grew +57 MiB after warm-up: heap explains 2%, mapped 95%`, or nil when RSS did not grow.
    public static func explanationLine(_ p: ProcessAnalysis) -> String? {
        guard let e = p.explanation else { return nil }
        var parts: [String] = []
        if e.sharedGrowth >= 1024 * 1024 {
            parts.append("shared memory \(Units.formatDelta(Int64(e.sharedGrowth))) (not its own)")
        }
        guard let fraction = e.fraction else {
            return parts.isEmpty ? nil : "rss growth after warm-up: " + parts.joined(separator: ", ")
        }
        if e.parts.isEmpty {
            parts.insert("no source attributes it to call sites (only /proc was recorded)", at: 0)
        } else {
            let explained = e.parts.map { "\($0.metric.title) \(percent($0.growth / e.ownRSSGrowth))" }
            parts.insert("explained \(percent(fraction)) (\(explained.joined(separator: ", ")))", at: 0)
        }
        return "rss grew \(Units.formatDelta(Int64(e.ownRSSGrowth))) after warm-up: " + parts.joined(separator: "; ")
    }

    /// `heap leak +229.5 KiB (+918 blocks), +20.7 MiB/h, suppressed by leak:pattern`.
    public static func siteHeadline(_ s: SiteAnalysis) -> String {
        var head = "\(s.metric.title) \(s.trend.classification.rawValue) \(Units.formatDelta(s.growthBytes))"
        head += " (\(s.growthCount >= 0 ? "+" : "")\(plural(s.growthCount, s.metric.countNoun)))"
        head += ", \(Units.formatDelta(Int64(s.trend.sustainedSlopePerHour)))/h"
        if let pattern = s.suppressedBy { head += ", suppressed by leak:\(pattern)" }
        return head
    }

    /// Processes shown in full, and short-lived ones folded into one line: when a session has
    /// judged processes, those too short to judge (helpers, workers that came and went) are folded.
    public static func split(_ processes: [ProcessAnalysis]) -> (shown: [ProcessAnalysis], folded: [ProcessAnalysis]) {
        let short = processes.filter(\.isInconclusive)
        guard short.count > 1, short.count < processes.count else { return (processes, []) }
        return (processes.filter { !$0.isInconclusive }, short)
    }

    /// `41 short-lived processes too short to judge (1-3 snapshots each): postgres: autovacuum worker (30), ...`.
    public static func foldedLine(_ folded: [ProcessAnalysis]) -> String? {
        guard !folded.isEmpty else { return nil }
        var names: [String: Int] = [:]
        for p in folded { names[Self.shortName(p.command), default: 0] += 1 }
        let common = names.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(4)
            .map { $0.value > 1 ? "\($0.key) (\($0.value))" : $0.key }
        let counts = folded.map(\.sampleCount)
        let range = counts.min() == counts.max() ? "\(counts.min() ?? 0)" : "\(counts.min() ?? 0)-\(counts.max() ?? 0)"
        return "\(plural(folded.count, "short-lived process")) too short to judge (\(range) snapshots each): "
            + common.joined(separator: ", ") + (names.count > common.count ? ", ..." : "")
    }

    /// The command without arguments beyond the first 40 characters.
    static func shortName(_ command: String) -> String {
        command.count <= 40 ? command : String(command.prefix(37)) + "..."
    }

    static func percent(_ fraction: Double) -> String {
        let value = fraction * 100
        return value >= 10 || value == 0 ? "\(Int(value.rounded()))%" : "\(String(value, decimals: 1))%"
    }
}

extension String {
    /// Pads with spaces to `width` characters.
    func padding(to width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

/// `report --json`: the `memdrift.report/1` document of docs/json.md.
public enum ReportJSON {
    struct Document: Encodable {
        let schema = "memdrift.report/1"
        let session: String
        let verdict: String
        let warnings: [String]
        let processes: [Process]
    }

    struct Process: Encodable {
        let pid: Int32
        let image: Int
        let parent_pid: Int32
        let command: String
        let verdict: String
        let reason: String
        let sources: [String]
        let snapshots: Int
        let judged_snapshots: Int
        let duration_seconds: Double
        let warmup_seconds: Double
        let sampled: Bool
        @NullWhenAbsent var heap: Figure?
        @NullWhenAbsent var rss: Figure?
        let metrics: [String: Figure]
        @NullWhenAbsent var rss_explained: Explanation?
        let suspects: [Site]
        let other_growth: [Site]
    }

    struct Figure: Encodable {
        let start_bytes: Int64
        let end_bytes: Int64
        let peak_bytes: Int64
        @NullWhenAbsent var teardown_bytes: Int64?
        let slope_bytes_per_hour: Double
        let sustained_slope_bytes_per_hour: Double
        let classification: String
        let p_value: Double
        let insufficient_data: Bool
        @NullWhenAbsent var own_slope_bytes_per_hour: Double?
        @NullWhenAbsent var own_classification: String?
    }

    struct Explanation: Encodable {
        let own_rss_growth_bytes: Int64
        let shared_growth_bytes: Int64
        @NullWhenAbsent var explained_fraction: Double?
        let by_metric: [String: Int64]
    }

    struct Site: Encodable {
        let metric: String
        let classification: String
        let growth_bytes: Int64
        let growth_count: Int64
        let live_bytes: Int64
        let slope_bytes_per_hour: Double
        let p_value: Double
        @NullWhenAbsent var suppressed_by: String?
        let frames: [JSONFrame]
    }

    /// The JSON text.
    public static func render(_ analysis: SessionAnalysis) -> String {
        JSONOutput.encode(
            Document(
                session: analysis.path, verdict: analysis.verdict.rawValue, warnings: analysis.warnings,
                processes: analysis.processes.map(process)))
    }

    static func process(_ p: ProcessAnalysis) -> Process {
        Process(
            pid: p.pid, image: p.image, parent_pid: p.parentPID, command: p.command, verdict: p.verdict.rawValue,
            reason: p.reason, sources: p.sources.map(\.title), snapshots: p.sampleCount, judged_snapshots: p.judgedCount,
            duration_seconds: p.durationSeconds, warmup_seconds: p.warmupSeconds, sampled: p.isSampled,
            heap: p.heap.map(figure), rss: p.rss.map(figure),
            metrics: Dictionary(uniqueKeysWithValues: p.metrics.map { ($0.key.rawValue, figure($0.value)) }),
            rss_explained: p.explanation.map { e in
                Explanation(
                    own_rss_growth_bytes: Int64(e.ownRSSGrowth), shared_growth_bytes: Int64(e.sharedGrowth),
                    explained_fraction: e.fraction,
                    by_metric: Dictionary(uniqueKeysWithValues: e.parts.map { ($0.metric.rawValue, Int64($0.growth)) }))
            },
            suspects: p.suspects.map(site), other_growth: p.otherGrowth.map(site))
    }

    static func figure(_ m: MetricAnalysis) -> Figure {
        let t = m.trend
        return Figure(
            start_bytes: Int64(m.start), end_bytes: Int64(m.end), peak_bytes: Int64(m.peak),
            teardown_bytes: m.atTeardown.map { Int64($0) }, slope_bytes_per_hour: t.slopePerHour,
            sustained_slope_bytes_per_hour: t.sustainedSlopePerHour, classification: t.classification.rawValue,
            p_value: t.pValue, insufficient_data: t.isInsufficientData,
            own_slope_bytes_per_hour: m.ownTrend?.sustainedSlopePerHour,
            own_classification: m.ownTrend?.classification.rawValue)
    }

    static func site(_ s: SiteAnalysis) -> Site {
        Site(
            metric: s.metric.rawValue, classification: s.trend.classification.rawValue, growth_bytes: s.growthBytes,
            growth_count: s.growthCount, live_bytes: s.bytesAtEnd, slope_bytes_per_hour: s.trend.sustainedSlopePerHour,
            p_value: s.trend.pValue, suppressed_by: s.suppressedBy, frames: s.frames.map(JSONFrame.init))
    }
}

/// The summary `run` prints when the command ends: per process the span, the metrics and the
/// call sites that grew most, then the verdict line.
public struct RunSummaryText {
    /// Growing call sites listed per process.
    public var topCallSites = 5
    /// Processes listed in full; the rest are counted.
    public var maximumProcesses = 10
    /// Frames shown per call site.
    public var framesPerCallSite = 6

    /// Creates a summary renderer with the default limits.
    public init() {}

    /// The summary text, ending with the verdict line.
    public func render(_ analysis: SessionAnalysis) -> String {
        let total = analysis.processes.reduce(0) { $0 + $1.sampleCount }
        var lines = [
            "memdrift: session \(analysis.path): \(plural(analysis.processes.count, "process")), \(plural(total, "snapshot"))"
        ]
        for warning in analysis.warnings { lines.append("  warning: \(warning)") }
        let (shown, folded) = ReportLayout.split(analysis.processes)
        for p in shown.prefix(maximumProcesses) {
            lines.append(ReportLayout.title(p).shortened(to: 100))
            lines.append("  " + ReportLayout.span(p))
            for m in ReportLayout.shownMetrics(p) { lines.append("  " + ReportLayout.metricLine(m)) }
            let sites = p.suspects + p.otherGrowth.filter { $0.growthBytes > 0 }
            guard !sites.isEmpty else { continue }
            lines.append(p.suspects.isEmpty ? "  growing call sites (leaf first):" : "  leak suspects first (leaf first):")
            for s in sites.prefix(topCallSites) {
                let names = s.frames.isEmpty ? ["[no stack]"] : s.frames.map(\.displayName)
                let more = names.count > framesPerCallSite ? " <- ..." : ""
                lines.append(
                    "    \(ReportLayout.siteHeadline(s))  " + names.prefix(framesPerCallSite).joined(separator: " <- ") + more)
            }
        }
        if shown.count > maximumProcesses {
            lines.append("  ... and \(plural(shown.count - maximumProcesses, "more process")) (memdrift report shows all)")
        }
        if let line = ReportLayout.foldedLine(folded) { lines.append(line) }
        lines.append(Self.verdictLine(analysis))
        return lines.joined(separator: "\n") + "\n"
    }

    /// One line naming the session's verdict and the process and call site behind it.
    public static func verdictLine(_ analysis: SessionAnalysis) -> String {
        var line = "memdrift: verdict \(analysis.verdict.rawValue)"
        if let p = analysis.processes.first(where: { $0.verdict == analysis.verdict && $0.verdict != .stable }) {
            line += " (pid \(p.pid)"
            if let top = p.suspects.first?.frames.first { line += ": \(top.displayName)" } else { line += ": \(p.reason)" }
            line += ")"
        }
        return line + "; details: memdrift report \(analysis.path)"
    }
}

extension String {
    /// At most `limit` characters, with `...` where it was cut.
    func shortened(to limit: Int) -> String { count <= limit ? self : String(prefix(limit - 3)) + "..." }
}
