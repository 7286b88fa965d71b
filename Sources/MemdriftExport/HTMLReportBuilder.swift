import MemdriftAnalysis
import MemdriftCore
import MemdriftSymbolization

/// Turns an analyzed session into what the HTML report shows.
public enum HTMLReportBuilder {
    /// The report data: per process, the series, the fitted heap line, suspects and a growth flame graph.
    public static func data(
        for analysis: SessionAnalysis, options: AnalysisOptions, stacks: StackSymbolizer, generatedAt: String
    ) throws(FormatError) -> HTMLReportData {
        var processes: [HTMLReportData.Process] = []
        for p in analysis.processes {
            let start = options.firstIndexAfterWarmup(p.times)
            // The line is fitted in the chart's own time coordinates, after the warm-up.
            let fit = TheilSen.fit(Series(times: Array(p.times[start...]), values: Array(p.heapValues[start...])))
            let flame = try growthFlame(p, from: start, stacks: stacks)
            processes.append(
                HTMLReportData.Process(
                    pid: p.series.pid, command: p.command, verdict: p.verdict.rawValue, times: p.times, heapBytes: p.heapValues,
                    rssBytes: p.rssValues, warmupSeconds: p.times[start], heapSlopeBytesPerSecond: fit?.slope ?? 0,
                    heapInterceptBytes: fit?.intercept ?? (p.heapValues.first ?? 0),
                    heapClassification: p.heap.classification.rawValue,
                    rssClassification: p.rss.classification.rawValue,
                    suspects: (p.suspects + p.otherGrowers).map { s in
                        HTMLReportData.Suspect(
                            classification: s.suppressedBy == nil ? s.trend.classification.rawValue : "suppressed",
                            growthBytes: s.growthBytes, growthCount: s.growthCount, slopeBytesPerHour: s.trend.slopePerHour,
                            frames: s.frames.map(\.displayName))
                    },
                    flame: flame))
        }
        return HTMLReportData(
            title: "memdrift report", session: analysis.path, verdict: analysis.verdict.rawValue, generatedAt: generatedAt,
            processes: processes)
    }

    /// Live-byte growth from the end of the warm-up to the last snapshot, as a tree rooted at "all".
    static func growthFlame(_ p: ProcessAnalysis, from start: Int, stacks: StackSymbolizer) throws(FormatError)
        -> HTMLReportData.FlameNode
    {
        let paths = p.series.snapshotPaths
        guard let lastPath = paths.last else { return .init(name: "all", value: 0) }
        let last = try SnapshotReader.read(path: lastPath)
        let first = start < paths.count - 1 ? try SnapshotReader.read(path: paths[start]) : nil
        let folded = FoldedStacks(stacks: stacks, lines: true).build(from: first, to: last, metric: .growth)
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
