import FoundationEssentials
import Glibc
import MemdriftCore

/// The work a recording does beside the processes themselves, on every turn of its loop: /proc
/// samples of the processes the tracker is not in, perf maps, Go heap profiles, the session's size
/// budget, and the status line.
final class RecordingUpkeep {
    let session: String
    let progress: ProgressLine
    private let quiet: Bool
    private let duration: Double?
    private let observer: ProcSampler
    private let perfMaps: PerfMapCopier?
    private let goHeap: GoProfileRecorder?
    private let thinner: SessionThinner
    private(set) var watcher: SessionWatcher
    private var lastThinned = Date()
    private var lastProgress = Date.distantPast
    private var lastReported = -1

    /// `tracker`: processes that map it write their own snapshots (nil: sample every process).
    /// `perfMaps`: copy the runtimes' perf maps. `goPID`: whose heap `pprofURL` serves; a service
    /// the recording started is given `goStartup` polls to start listening before a failure is said.
    init(
        session: String, interval: Double, duration: Double?, quiet: Bool, tracker: String?, perfMaps: Bool,
        pprofURL: String?, goPID: pid_t, goStartup: Int, maxSessionSize: UInt64, progress: ProgressLine
    ) {
        self.session = session
        self.progress = progress
        self.quiet = quiet
        self.duration = duration
        observer = ProcSampler(session: session, interval: interval, tracker: tracker)
        self.perfMaps = perfMaps ? PerfMapCopier(session: session) : nil
        goHeap = pprofURL.flatMap { try? GoProfileRecorder(url: $0, sessionPath: session, pid: goPID, interval: interval) }
        goHeap?.quietFailuresAtStart = goStartup
        thinner = SessionThinner(session: session, budget: maxSessionSize)
        watcher = SessionWatcher(path: session)
    }

    /// One turn: what is due among the samples, the size budget and the status line. `tree` lists
    /// the processes recorded; it is only asked when a sample is due.
    func turn(tree: () -> [pid_t], elapsed: Double) {
        if observer.isDue() {
            let pids = tree()
            var warnings = observer.sample(pids, reason: .interval) + (perfMaps?.copy(pids) ?? [])
            if let warning = goHeap?.poll() { warnings.append(warning) }
            note(warnings)
        }
        if Date().timeIntervalSince(lastThinned) >= 30 {
            lastThinned = Date()
            thinner.thinIfNeeded()
        }
        if !quiet && Date().timeIntervalSince(lastProgress) >= 1 {
            lastProgress = Date()
            watcher.refresh()
            // A line per new snapshot when stderr is a file; rewritten every second on a terminal.
            if progress.isTerminal || watcher.snapshotCount != lastReported {
                lastReported = watcher.snapshotCount
                progress.show(progress.status(watcher, elapsed: elapsed, duration: duration))
            }
        }
    }

    /// A last sample of `pids` before the recording stops them or stops watching.
    func sampleNow(_ pids: [pid_t]) { observer.sample(pids, reason: .request) }

    /// Copies the perf maps' last lines, once every process is gone.
    func finish() { note(perfMaps?.finish() ?? []) }

    /// Refreshes the session's view, for counting the snapshots that answer a request.
    func refresh() -> Int {
        watcher.refresh()
        return watcher.snapshotCount
    }

    private func note(_ warnings: [String]) {
        for warning in warnings where !quiet { progress.note(warning) }
    }
}
