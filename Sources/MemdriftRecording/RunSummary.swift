import MemdriftCore
import MemdriftSymbolization

/// The end-of-run summary: per process, snapshots, heap and RSS start -> end, top growing call sites.
public struct RunSummary {
    /// Growing call sites listed per process.
    public var topCallSites = 5
    /// Processes listed in full; the rest are counted.
    public var maximumProcesses = 10
    /// Frames shown per call site.
    public var framesPerCallSite = 6
    /// Names frames; allocator and runtime frames are folded away unless it keeps full stacks.
    public var stacks: StackSymbolizer

    /// Creates a summary renderer with the default limits.
    public init(stacks: StackSymbolizer = StackSymbolizer()) { self.stacks = stacks }

    /// The leaf-first frame names of a stack as reports show them.
    public func names(of stack: CallStack, in snapshot: Snapshot) -> [String] {
        let frames = stacks.frames(of: stack, in: snapshot)
        return frames.isEmpty ? ["[no stack]"] : frames.map(\.displayName)
    }

    /// The summary text of the session at `path`. `mainPID` is listed first when given.
    public func render(sessionPath path: String, mainPID: Int32? = nil) throws(FormatError) -> String {
        let session = try Session.open(path)
        var processes: [(series: SnapshotSeries, first: Snapshot, last: Snapshot)] = []
        for s in session.series {
            // Only the ends matter here; reading every snapshot of a long run would cost seconds.
            guard let firstPath = s.snapshotPaths.first, let lastPath = s.snapshotPaths.last else { continue }
            let first = try SnapshotReader.read(path: firstPath)
            processes.append((s, first, firstPath == lastPath ? first : try SnapshotReader.read(path: lastPath)))
        }
        var lines: [String] = []
        let total = processes.reduce(0) { $0 + $1.series.snapshotPaths.count }
        lines.append(
            "memdrift: session \(path): \(processes.count) process\(processes.count == 1 ? "" : "es"), \(total) snapshot\(total == 1 ? "" : "s")"
        )
        if processes.isEmpty {
            lines.append("  no snapshots were written (was the program static, setuid, or too short-lived to reach the tracker?)")
            return lines.joined(separator: "\n") + "\n"
        }
        // The main process first, then by heap growth, so a leaking child is not buried.
        processes.sort { a, b in
            if (a.series.pid == mainPID) != (b.series.pid == mainPID) { return a.series.pid == mainPID }
            return growth(a.first, a.last) > growth(b.first, b.last)
        }
        for p in processes.prefix(maximumProcesses) { lines.append(contentsOf: describeProcess(p.series, p.first, p.last)) }
        if processes.count > maximumProcesses {
            lines.append("  ... and \(processes.count - maximumProcesses) more processes (memdrift report shows all)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func growth(_ first: Snapshot, _ last: Snapshot) -> Int64 {
        Int64(bitPattern: last.figures.heapLiveBytes &- first.figures.heapLiveBytes)
    }

    private func describeProcess(_ s: SnapshotSeries, _ first: Snapshot, _ last: Snapshot) -> [String] {
        let command = last.commandLine.isEmpty ? last.executable : last.commandLine.joined(separator: " ")
        let seconds = Double(last.header.monotonicNanos &- first.header.monotonicNanos) / 1e9
        let count = s.snapshotPaths.count
        var lines = [
            "pid \(s.pid)\(s.image > 1 ? " (image \(s.image))" : ""): \(shorten(command, 90))",
            "  \(count) snapshot\(count == 1 ? "" : "s") over \(Units.formatDuration(seconds)), last: \(last.header.reason)"
                + (last.header.isSampled
                    ? ", sampled every \(Units.formatBytes(last.header.sampleRate)): figures are estimates" : ""),
            "  heap \(change(first.figures.heapLiveBytes, last.figures.heapLiveBytes))   rss \(change(first.figures.rss, last.figures.rss))",
        ]
        let growers = StackGrowth.ranking(from: first, to: last).prefix(topCallSites).filter { $0.deltaBytes > 0 }
        if growers.isEmpty {
            lines.append("  no call site grew between the first and the last snapshot")
            return lines
        }
        lines.append("  top growing call sites (leaf first):")
        for g in growers {
            let names = names(of: g.stack, in: last)
            let frames = names.prefix(framesPerCallSite)
            let more = names.count > framesPerCallSite ? " <- ..." : ""
            let blocks = g.deltaCount == 1 || g.deltaCount == -1 ? "block" : "blocks"
            lines.append(
                "    \(Units.formatDelta(g.deltaBytes)) (\(g.deltaCount > 0 ? "+" : "")\(g.deltaCount) \(blocks), \(Units.formatBytes(g.bytesAfter)) live)  "
                    + frames.joined(separator: " <- ") + more)
        }
        return lines
    }

    private func change(_ from: UInt64, _ to: UInt64) -> String {
        "\(Units.formatBytes(from)) -> \(Units.formatBytes(to)) (\(Units.formatDelta(Int64(bitPattern: to &- from))))"
    }

    private func shorten(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 3)) + "..."
    }
}
