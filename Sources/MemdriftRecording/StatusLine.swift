import CMemdriftSupport
import Glibc
import MemdriftCore

/// The live status line of `run`: the whole process tree in one line.
enum StatusLine {
    /// Totals of the processes still running (the newest image of each pid) and the one whose
    /// RSS grew most, cut to `width` columns (nil: no limit, when stderr is not a terminal). On a
    /// narrow terminal the parts that matter most stay: time, RSS, the largest grower, the heap,
    /// then the counts.
    static func render(
        elapsed: Double, duration: Double?, processes: [SessionWatcher.Process], isRunning: (Int32) -> Bool, width: Int?
    ) -> String {
        var head = "memdrift \(Units.formatDuration(elapsed))"
        if let duration { head += " of \(Units.formatDuration(duration))" }
        guard !processes.isEmpty else { return fit([(head, 0), ("waiting for the first snapshot", 1)], width: width) }
        var newest: [Int32: SessionWatcher.Process] = [:]
        for p in processes where newest[p.pid].map({ $0.image < p.image }) ?? true { newest[p.pid] = p }
        let live = newest.values.filter { isRunning($0.pid) }
        let shown = live.isEmpty ? Array(newest.values) : live
        let snapshots = processes.reduce(0) { $0 + $1.snapshots }
        var parts: [(String, Int)] = [(head, 0), ("\(plural(newest.count, "process")), \(plural(snapshots, "snapshot"))", 4)]
        let rss = shown.reduce(Int64(0)) { $0 + Int64($1.latest.rss) }
        let rssGrowth = shown.reduce(Int64(0)) { $0 + $1.rssGrowth }
        parts.append(("rss \(Units.formatBytes(rss)) (\(Units.formatDelta(rssGrowth)))", 1))
        // Processes observed from /proc have no heap figure.
        if shown.contains(where: { $0.latest.values[ProcessFigures.ID.heapLiveBytes.rawValue] != nil }) {
            let heap = shown.reduce(Int64(0)) { $0 + Int64($1.latest.heapLiveBytes) }
            let heapGrowth = shown.reduce(Int64(0)) { $0 + $1.heapGrowth }
            parts.append(("heap \(Units.formatBytes(heap)) (\(Units.formatDelta(heapGrowth)))", 3))
        }
        if newest.count > 1, let top = shown.max(by: { $0.rssGrowth < $1.rssGrowth }), top.rssGrowth > 0 {
            parts.append(("top: \(top.name.prefix(24))[\(top.pid)] \(Units.formatDelta(top.rssGrowth))", 2))
        }
        return fit(parts, width: width)
    }

    /// The parts, in order, that fit: taken by priority (0 first) while they fit; the first part cut
    /// to the width when even it does not fit.
    static func fit(_ parts: [(text: String, priority: Int)], width: Int?) -> String {
        guard let width else { return parts.map(\.text).joined(separator: " | ") }
        var kept = Set<Int>()
        var used = -3  // no separator before the first part
        for i in parts.indices.sorted(by: { parts[$0].priority < parts[$1].priority }) {
            let cost = parts[i].text.count + 3
            if used + cost <= width {
                kept.insert(i)
                used += cost
            }
        }
        let line = parts.indices.filter { kept.contains($0) }.map { parts[$0].text }.joined(separator: " | ")
        return line.isEmpty ? String((parts.first?.text ?? "").prefix(width)) : line
    }
}

/// The status line on stderr: rewritten in place on a terminal, a line per update otherwise.
final class ProgressLine {
    let isTerminal = isatty(STDERR_FILENO) == 1
    private var shown = false

    /// The status line for the session `watcher` follows, fitted to the terminal.
    func status(_ watcher: SessionWatcher, elapsed: Double, duration: Double?) -> String {
        let columns = Int(mds_terminal_columns(STDERR_FILENO))
        return StatusLine.render(
            elapsed: elapsed, duration: duration, processes: Array(watcher.processes.values), isRunning: ProcessTree.isRunning,
            width: isTerminal ? (columns > 0 ? columns : 80) - 1 : nil)
    }

    func show(_ line: String) {
        if isTerminal {
            StandardError.write("\r" + line + "\u{1B}[K")
            shown = true
        } else {
            StandardError.write(line + "\n")
        }
    }

    func clear() {
        guard shown else { return }
        StandardError.write("\r\u{1B}[K")
        shown = false
    }

    /// A line of its own, `memdrift: text`, below the status line.
    func note(_ text: String) {
        clear()
        StandardError.write("memdrift: \(text)\n")
    }
}
