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
        out +=
            "  heap \(Units.formatBytes(d.heapBefore)) -> \(Units.formatBytes(d.heapAfter)) (\(Units.formatDelta(Int64(bitPattern: d.heapAfter &- d.heapBefore))))"
        out +=
            "   rss \(Units.formatBytes(d.rssBefore)) -> \(Units.formatBytes(d.rssAfter)) (\(Units.formatDelta(Int64(bitPattern: d.rssAfter &- d.rssBefore))))\n"
        if !d.rebuiltModules.isEmpty {
            out += "  rebuilt since the first snapshot, matched by function name: \(d.rebuiltModules.joined(separator: ", "))\n"
        }
        let rows = selected(d)
        guard !rows.isEmpty else { return out + "  no call site changed by \(Units.formatBytes(minimumBytes)) or more\n" }
        out += "  " + pad("change", 12) + pad("before", 12) + pad("after", 12) + pad("blocks", 9) + "  \(d.grouping.rawValue)\n"
        for r in rows {
            let frames =
                d.grouping == .stack ? r.frames.prefix(framesPerCallSite).map(\.displayName).joined(separator: " <- ") : r.label
            let more = d.grouping == .stack && r.frames.count > framesPerCallSite ? " <- ..." : ""
            out += "  " + pad(Units.formatDelta(r.deltaBytes), 12) + pad(Units.formatBytes(r.bytesBefore), 12)
            out += pad(Units.formatBytes(r.bytesAfter), 12) + pad((r.deltaCount > 0 ? "+" : "") + String(r.deltaCount), 9)
            out += "  " + (frames.isEmpty ? r.label : frames) + more + "\n"
        }
        let hidden = d.changes.count - rows.count
        if hidden > 0 { out += "  (\(hidden) more rows; --top and --min-bytes choose what is shown)\n" }
        return out
    }

    func selected(_ d: SnapshotDiff) -> [CallSiteChange] {
        Array(d.changes.filter { $0.deltaBytes != 0 && UInt64($0.deltaBytes.magnitude) >= minimumBytes }.prefix(top))
    }

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
        let heap_before_bytes: UInt64
        let heap_after_bytes: UInt64
        let rss_before_bytes: UInt64
        let rss_after_bytes: UInt64
        let rebuilt_modules: [String]
        let rows: [Row]
    }

    struct Label: Encodable {
        let path: String
        let pid: Int32
        let sequence: UInt64
        let elapsed_seconds: Double
        let command: String
    }

    struct Row: Encodable {
        let label: String
        let bytes_before: UInt64
        let bytes_after: UInt64
        let delta_bytes: Int64
        let count_before: UInt64
        let count_after: UInt64
        let delta_count: Int64
        let frames: [JSONFrame]
    }

    /// The JSON text of one or more diffs (one per process for `diff SESSION`), rows chosen like the text.
    public static func render(_ diffs: [SnapshotDiff], selection: DiffText) -> String {
        JSONOutput.encode(
            Document(
                diffs: diffs.map { d in
                    Diff(
                        before: label(d.before), after: label(d.after), by: d.grouping.rawValue,
                        heap_before_bytes: d.heapBefore, heap_after_bytes: d.heapAfter, rss_before_bytes: d.rssBefore,
                        rss_after_bytes: d.rssAfter, rebuilt_modules: d.rebuiltModules,
                        rows: selection.selected(d).map { r in
                            Row(
                                label: r.label, bytes_before: r.bytesBefore, bytes_after: r.bytesAfter, delta_bytes: r.deltaBytes,
                                count_before: r.countBefore, count_after: r.countAfter, delta_count: r.deltaCount,
                                frames: r.frames.map(JSONFrame.init))
                        })
                }))
    }

    static func label(_ s: SnapshotLabel) -> Label {
        Label(path: s.path, pid: s.pid, sequence: s.sequence, elapsed_seconds: s.elapsedSeconds, command: s.command)
    }
}
