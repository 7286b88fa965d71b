import CMemdriftSupport
import Glibc
import MemdriftCore

/// The live status line of `run`: the whole process tree in one line.
enum StatusLine {
    /// Totals of the processes still running (the newest image of each pid) and the one whose
    /// RSS grew most, cut to `width` columns (nil: no limit, when stderr is not a terminal).
    static func render(
        elapsed: Double, duration: Double?, processes: [SessionWatcher.Process], isRunning: (Int32) -> Bool, width: Int?
    ) -> String {
        var head = "memdrift \(Units.formatDuration(elapsed))"
        if let duration { head += " of \(Units.formatDuration(duration))" }
        guard !processes.isEmpty else { return fit([head, "waiting for the first snapshot"], width: width) }
        var newest: [Int32: SessionWatcher.Process] = [:]
        for p in processes where newest[p.pid].map({ $0.image < p.image }) ?? true { newest[p.pid] = p }
        let live = newest.values.filter { isRunning($0.pid) }
        let shown = live.isEmpty ? Array(newest.values) : live
        let snapshots = processes.reduce(0) { $0 + $1.snapshots }
        var parts = [head, "\(plural(newest.count, "process")), \(plural(snapshots, "snapshot"))"]
        let rss = shown.reduce(Int64(0)) { $0 + Int64($1.latest.rss) }
        let rssGrowth = shown.reduce(Int64(0)) { $0 + $1.rssGrowth }
        parts.append("rss \(Units.formatBytes(rss)) (\(Units.formatDelta(rssGrowth)))")
        // Processes observed from /proc have no heap figure.
        if shown.contains(where: { $0.latest.values[ProcessFigures.ID.heapLiveBytes.rawValue] != nil }) {
            let heap = shown.reduce(Int64(0)) { $0 + Int64($1.latest.heapLiveBytes) }
            let heapGrowth = shown.reduce(Int64(0)) { $0 + $1.heapGrowth }
            parts.append("heap \(Units.formatBytes(heap)) (\(Units.formatDelta(heapGrowth)))")
        }
        if newest.count > 1, let top = shown.max(by: { $0.rssGrowth < $1.rssGrowth }), top.rssGrowth > 0 {
            parts.append("grows most: pid \(top.pid) \(top.name) \(Units.formatDelta(top.rssGrowth))")
        }
        return fit(parts, width: width)
    }

    /// As many parts as fit, in order; the first cut to the width when even it does not fit.
    static func fit(_ parts: [String], width: Int?) -> String {
        guard let width else { return parts.joined(separator: " | ") }
        var line = ""
        for part in parts {
            let next = line.isEmpty ? part : line + " | " + part
            if next.count > width { break }
            line = next
        }
        return line.isEmpty ? String((parts.first ?? "").prefix(width)) : line
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
