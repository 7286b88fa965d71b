import MemdriftAnalysis
import MemdriftCore

/// The human table of a diff.
public struct DiffText {
    public var top = 20
    public var minimumBytes: UInt64 = 0
    public var framesPerCallSite = 5

    /// Creates a renderer showing `top` rows of at least `minimumBytes` change.
    public init(top: Int = 20, minimumBytes: UInt64 = 0) {
        self.top = top
        self.minimumBytes = minimumBytes
    }

    /// The diff text.
    public func render(_ d: SnapshotDiff) -> String {
        var out = "memdrift diff: \(describe(d.before)) -> \(describe(d.after))\n"
        let totals = d.totals.filter { [.heapMalloc, .heapMapped, .goInuse, .jsHeap, .rss].contains($0.metric) }
        if !totals.isEmpty {
            out +=
                "  "
                + totals.map { t in
                    "\(t.metric.title) \(Units.formatBytes(t.before)) -> \(Units.formatBytes(t.after)) (\(Units.formatDelta(Int64(t.after - t.before))))"
                }.joined(separator: "   ") + "\n"
        }
        if !d.rebuiltModules.isEmpty {
            out += "  rebuilt since the first snapshot, matched by function name: \(d.rebuiltModules.joined(separator: ", "))\n"
        }
        let eligible = self.eligible(d)
        let rows = Array(eligible.prefix(top))
        let tagged = Set(d.changes.map(\.metric)).count > 1
        guard !rows.isEmpty else { return out + "  no call site changed by \(Units.formatBytes(minimumBytes)) or more\n" }
        out += "  " + pad("change", 12) + pad("before", 12) + pad("after", 12) + pad("blocks", 9) + "  \(d.grouping.rawValue)\n"
        for r in rows {
            let frames =
                d.grouping == .stack ? r.frames.prefix(framesPerCallSite).map(\.displayName).joined(separator: " <- ") : r.label
            let more = d.grouping == .stack && r.frames.count > framesPerCallSite ? " <- ..." : ""
            out += "  " + pad(Units.formatDelta(r.deltaBytes), 12) + pad(Units.formatBytes(r.bytesBefore), 12)
            out += pad(Units.formatBytes(r.bytesAfter), 12) + pad((r.deltaCount > 0 ? "+" : "") + String(r.deltaCount), 9)
            out += "  " + (tagged ? "[\(r.metric.title)] " : "") + (frames.isEmpty ? r.label : frames) + more + "\n"
        }
        let hidden = eligible.count - rows.count
        if hidden > 0 {
            let floor = minimumBytes > 1 ? " of at least \(Units.formatBytes(minimumBytes))" : ""
            out += "  (\(plural(hidden, "more row"))\(floor); raise --top to show \(hidden == 1 ? "it" : "them"))\n"
        }
        return out
    }

    /// Rows that changed by at least `minimumBytes`, largest growth first.
    func eligible(_ d: SnapshotDiff) -> [CallSiteChange] {
        d.changes.filter { $0.deltaBytes != 0 && UInt64($0.deltaBytes.magnitude) >= max(minimumBytes, 1) }
    }

    func selected(_ d: SnapshotDiff) -> [CallSiteChange] { Array(eligible(d).prefix(top)) }

    private func describe(_ s: SnapshotLabel) -> String {
        "\(s.path.isEmpty ? "" : s.path + " ")(pid \(s.pid), #\(s.sequence) at \(Units.formatDuration(s.elapsedSeconds)))"
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}

/// `diff --json`: the `memdrift.diff/1` document.
public enum DiffJSON {
    struct Document: Encodable {
        let schema = "memdrift.diff/1"
        let diffs: [Diff]
    }

    struct Diff: Encodable {
        let before: Label
        let after: Label
        let by: String
        @NullWhenAbsent var heap_before_bytes: Int64?
        @NullWhenAbsent var heap_after_bytes: Int64?
        @NullWhenAbsent var rss_before_bytes: Int64?
        @NullWhenAbsent var rss_after_bytes: Int64?
        let totals: [String: Total]
        let rebuilt_modules: [String]
        let rows: [Row]
    }

    struct Total: Encodable {
        let before_bytes: Int64
        let after_bytes: Int64
    }

    struct Label: Encodable {
        let path: String
        let pid: Int32
        let sequence: UInt64
        let elapsed_seconds: Double
        let command: String
    }

    struct Row: Encodable {
        let metric: String
        let label: String
        let bytes_before: Int64
        let bytes_after: Int64
        let delta_bytes: Int64
        let count_before: Int64
        let count_after: Int64
        let delta_count: Int64
        let frames: [JSONFrame]
    }

    /// The JSON text of one or more diffs (one per process for `diff SESSION`), rows chosen like the text.
    public static func render(_ diffs: [SnapshotDiff], selection: DiffText) -> String {
        JSONOutput.encode(
            Document(
                diffs: diffs.map { d in
                    func total(_ m: MetricName) -> (Int64, Int64)? {
                        d.totals.first { $0.metric == m }.map { (Int64($0.before), Int64($0.after)) }
                    }
                    return Diff(
                        before: label(d.before), after: label(d.after), by: d.grouping.rawValue,
                        heap_before_bytes: total(.heapMalloc)?.0, heap_after_bytes: total(.heapMalloc)?.1,
                        rss_before_bytes: total(.rss)?.0, rss_after_bytes: total(.rss)?.1,
                        totals: Dictionary(
                            uniqueKeysWithValues: d.totals.map {
                                ($0.metric.rawValue, Total(before_bytes: Int64($0.before), after_bytes: Int64($0.after)))
                            }),
                        rebuilt_modules: d.rebuiltModules,
                        rows: selection.selected(d).map { r in
                            Row(
                                metric: r.metric.rawValue, label: r.label, bytes_before: r.bytesBefore, bytes_after: r.bytesAfter,
                                delta_bytes: r.deltaBytes,
                                count_before: r.countBefore, count_after: r.countAfter, delta_count: r.deltaCount,
                                frames: r.frames.map(JSONFrame.init))
                        })
                }))
    }

    static func label(_ s: SnapshotLabel) -> Label {
        Label(path: s.path, pid: s.pid, sequence: s.sequence, elapsed_seconds: s.elapsedSeconds, command: s.command)
    }
}
