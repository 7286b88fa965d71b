import CMemdriftSupport
import FoundationEssentials
import Glibc
import MemdriftCore

/// What `memdrift watch` should do.
public struct WatchOptions: Sendable {
    /// The processes to record; their descendants, also those started later, are recorded too.
    public var pids: [Int32]
    /// Seconds after which recording stops; nil to record until every watched process is gone.
    public var duration: Double?
    /// Seconds between samples.
    public var interval: Double = 10
    public var outputDirectory: String?
    /// No status line: only the session is written.
    public var quiet = false
    /// A Go net/http/pprof heap endpoint of the first watched process, fetched every interval.
    public var pprofURL: String?
    /// Bytes the session may take: past it the middle of every series is thinned.
    public var maxSessionSize: UInt64 = 1 << 30

    /// Options for watching `pids` with the defaults.
    public init(pids: [Int32]) { self.pids = pids }
}

/// Records already-running processes from /proc, injecting nothing, into a session like `run`'s.
public final class ProcessWatcher {
    private let options: WatchOptions
    private let progress = ProgressLine()

    /// Creates a watcher for `options`.
    public init(options: WatchOptions) { self.options = options }

    /// Records until the duration ends, every watched process is gone, or an interrupt; returns the session.
    public func run() throws(RecordingError) -> String {
        guard !options.pids.isEmpty else { throw .invalidOption("no process to watch: give one or more pids") }
        guard options.interval >= 0.1 else { throw .invalidOption("--interval must be at least 100ms") }
        if let duration = options.duration, duration <= 0 { throw .invalidOption("--duration must be positive") }
        for pid in options.pids { try Self.check(pid) }
        if let url = options.pprofURL { try GoProfileRecorder.check(url) }

        let first = options.pids[0]
        let command =
            readWholeFile("/proc/\(first)/cmdline").map { bytes in
                bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            } ?? []
        let comm = readWholeTextFile("/proc/\(first)/comm")?.split(separator: "\n").first.map(String.init)
        let session = try SessionDirectory.prepare(options.outputDirectory, command: command.first ?? comm ?? "process")
        do {
            try Session.writeDescription(sessionPath: session, command: command, intervalSeconds: options.interval)
        } catch {
            throw .outputUnusable(path: session, reason: error.description)
        }
        mds_watch_signals()
        let upkeep = RecordingUpkeep(
            session: session, interval: options.interval, duration: options.duration, quiet: options.quiet, tracker: nil,
            perfMaps: false, pprofURL: options.pprofURL, goPID: first, goStartup: 0, maxSessionSize: options.maxSessionSize,
            progress: progress)
        let start = Date()
        while true {
            let roots = options.pids.filter(ProcessTree.isRunning)
            let tree = { roots + roots.flatMap(ProcessTree.descendants) }
            var fromTerminal: Int32 = 0
            let interrupted = mds_take_signal(&fromTerminal) != 0
            let elapsed = Date().timeIntervalSince(start)
            if interrupted || roots.isEmpty || (options.duration.map { elapsed >= $0 } ?? false) {
                upkeep.sampleNow(tree())
                progress.clear()
                if !options.quiet {
                    let what = roots.isEmpty ? "every watched process is gone" : "stopped watching"
                    progress.note("\(what) after \(Units.formatDuration(elapsed))")
                }
                return session
            }
            upkeep.turn(tree: tree, elapsed: elapsed)
            usleep(100_000)
        }
    }

    /// Fails with one line unless `pid` is a live process this user may read.
    static func check(_ pid: Int32) throws(RecordingError) {
        guard pid > 0, ProcessTree.isRunning(pid), let status = readWholeTextFile("/proc/\(pid)/status") else {
            throw .invalidOption("no process with pid \(pid)")
        }
        let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?
            .split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { UInt32($0) }
        if let uid, geteuid() != 0, uid != geteuid() {
            throw .invalidOption("pid \(pid) belongs to another user (uid \(uid)); watch it as that user or as root")
        }
    }
}
