import MemdriftAnalysis
import MemdriftCore
import MemdriftSymbolization

/// Turns a judged session into what the HTML report shows; every figure comes from the judge.
public enum HTMLReportBuilder {
    /// The report data: per process, the series, the fitted line, suspects and a growth flame graph.
    ///
    /// `timelines` are the ones `analysis` judged; only the flame graph reads them (growth per call
    /// site over the judged window).
    public static func data(
        for analysis: SessionAnalysis, timelines: SessionTimelines, names: StackSymbolizer, generatedAt: String
    ) -> HTMLReportData {
        let (shown, folded) = ReportLayout.split(analysis.processes)
        let byName = Dictionary(timelines.processes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let processes = shown.map { p in process(p, timeline: byName[p.name], names: names) }
        return HTMLReportData(
            title: "memdrift report", session: analysis.path, verdict: analysis.verdict.rawValue, generatedAt: generatedAt,
            processes: processes, folded: ReportLayout.foldedLine(folded), warnings: analysis.warnings)
    }

    static func process(_ p: ProcessAnalysis, timeline: ProcessTimeline?, names: StackSymbolizer) -> HTMLReportData.Process {
        // The chart's heap line: the malloc heap, else the first attributed metric (a runtime's heap).
        let heap = p.heap ?? p.metrics.values.filter(\.isAttributed).min { $0.metric < $1.metric }
        let rss = p.rss
        let times = heap?.times ?? rss?.times ?? []
        var facts = [HTMLReportData.Fact("Snapshots", ReportLayout.span(p))]
        facts.append(HTMLReportData.Fact("Sources", p.sources.map(\.title).joined(separator: ", ")))
        for m in ReportLayout.shownMetrics(p) {
            facts.append(HTMLReportData.Fact(m.metric.title, ReportLayout.metricFigures(m)))
        }
        if let line = ReportLayout.explanationLine(p) { facts.append(HTMLReportData.Fact("RSS growth", line)) }
        return HTMLReportData.Process(
            pid: p.pid, command: p.command, verdict: p.verdict.rawValue, reason: p.reason, facts: facts, times: times,
            heapBytes: heap?.values ?? [], rssBytes: rss.map { series($0, at: times) } ?? [], warmupSeconds: p.warmupEnd,
            heapSlopeBytesPerSecond: heap?.trend.slopePerSecond ?? 0, heapInterceptBytes: heap?.trend.intercept ?? 0,
            heapClassification: heap.map(classification) ?? "", rssClassification: rss.map(classification) ?? "",
            leaks: p.suspects.map(suspect), otherGrowth: p.otherGrowth.map(suspect),
            flame: timeline.map { growthFlame($0, window: p.window, names: names) } ?? .init(name: "all", value: 0))
    }

    /// RSS at the chart's times (the heap's samples), so both lines share one axis.
    private static func series(_ m: MetricAnalysis, at times: [Double]) -> [Double] {
        guard m.times != times else { return m.values }
        let values = Dictionary(zip(m.times, m.values), uniquingKeysWith: { a, _ in a })
        return times.map { values[$0] ?? .nan }
    }

    private static func classification(_ m: MetricAnalysis) -> String {
        m.judgedTrend.isInsufficientData ? "insufficient" : m.judgedTrend.classification.rawValue
    }

    private static func suspect(_ s: SiteAnalysis) -> HTMLReportData.Suspect {
        HTMLReportData.Suspect(
            classification: s.suppressedBy == nil ? s.trend.classification.rawValue : "suppressed", metric: s.metric.title,
            growthBytes: s.growthBytes, growthCount: s.growthCount, slopeBytesPerHour: s.trend.sustainedSlopePerHour,
            suppressedBy: s.suppressedBy, frames: s.frames.map(frame))
    }

    /// The function and its place, as separate fields (never parsed back out of display text).
    static func frame(_ f: SymbolizedFrame) -> HTMLReportData.Frame {
        guard let function = f.function else { return HTMLReportData.Frame(function: f.displayName) }
        let inlined = f.isInlined ? " [inlined]" : ""
        guard let file = f.file else { return HTMLReportData.Frame(function: function + inlined, location: f.module) }
        let name = file.split(separator: "/").last.map(String.init) ?? file
        return HTMLReportData.Frame(function: function + inlined, location: name + (f.line.map { ":\($0)" } ?? ""))
    }

    /// Live-byte growth over the judged window, as a tree rooted at "all".
    static func growthFlame(_ t: ProcessTimeline, window: ClosedRange<Int>?, names: StackSymbolizer)
        -> HTMLReportData.FlameNode
    {
        guard let window else { return .init(name: "all", value: 0) }
        let from = window.lowerBound < window.upperBound ? SampleRef(t, window.lowerBound) : nil
        let folded = FoldedStacks(names: names, lines: true).build(
            from: from, to: SampleRef(t, window.upperBound), metric: .growth)
        return tree(folded)
    }

    /// Merges folded stacks (root first) into a tree whose values include their children.
    static func tree(_ folded: [FoldedStack]) -> HTMLReportData.FlameNode {
        final class Node {
            var value: Int64 = 0
            var children: [String: Node] = [:]
            var order: [String] = []
        }
        let root = Node()
        for stack in folded {
            var node = root
            node.value += stack.value
            for frame in stack.frames {
                let next: Node
                if let existing = node.children[frame] {
                    next = existing
                } else {
                    next = Node()
                    node.children[frame] = next
                    node.order.append(frame)
                }
                next.value += stack.value
                node = next
            }
        }
        func convert(_ name: String, _ node: Node) -> HTMLReportData.FlameNode {
            let children = node.order.compactMap { key in node.children[key].map { convert(key, $0) } }
            return .init(name: name, value: node.value, children: children.sorted { $0.value > $1.value })
        }
        return convert("all", root)
    }
}
