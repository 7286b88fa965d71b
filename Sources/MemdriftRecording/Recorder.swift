import CMemdriftSupport
import FoundationEssentials
import Glibc
import MemdriftCore

/// What `memdrift run` should do.
public struct RunOptions: Sendable {
    /// The command and its arguments.
    public var command: [String]
    /// Seconds after which the process tree is stopped; nil to wait for it to exit.
    public var duration: Double?
    /// Seconds between snapshots.
    public var interval: Double = 10
    public var outputDirectory: String?
    public var trackerPath: String?
    /// Most frames kept per stack.
    public var depth = 64
    /// Mean bytes between sampled allocations; 0 records every allocation.
    public var sampleRate: UInt64 = 0
    /// Seconds between SIGTERM and SIGKILL when stopping the tree.
    public var grace: Double = 5
    /// No progress line and no summary: only the session is written.
    public var quiet = false
    /// Bytes the session may take: past it the middle of every series is thinned.
    public var maxSessionSize: UInt64 = 1 << 30
    /// A Go net/http/pprof heap endpoint of the command (`http://127.0.0.1:6060/debug/pprof/heap`),
    /// fetched every interval.
    public var pprofURL: String?
    /// Ask the runtimes memdrift recognises to name their JIT and interpreter code (perf maps), and
    /// load their heap probes (Node.js: V8's sampling heap profiler).
    public var runtimeSupport = true

    /// Options for running `command` with the defaults.
    public init(command: [String]) { self.command = command }
}

/// What a finished run produced.
public struct RunResult: Sendable {
    public var sessionPath: String
    /// The target's exit code (128 + signal when a signal ended it).
    public var exitCode: Int32
    public var pid: Int32
}

/// Runs a command under the tracker, shows progress, stops it on time and summarizes the session.
public final class Recorder {
    private let options: RunOptions
    private let progress = ProgressLine()

    /// Creates a recorder for `options`.
    public init(options: RunOptions) { self.options = options }

    /// Records the command; returns once it exited (or was stopped) and the summary is printed.
    public func run() throws(RecordingError) -> RunResult {
        guard let command = options.command.first, !command.isEmpty else { throw .emptyCommand }
        guard options.interval >= 0.1 else { throw .invalidOption("--interval must be at least 100ms") }
        guard options.depth >= 1 && options.depth <= 256 else { throw .invalidOption("--depth must be between 1 and 256") }
        if let duration = options.duration, duration <= 0 { throw .invalidOption("--duration must be positive") }

        if let url = options.pprofURL { try GoProfileRecorder.check(url) }
        let tracker = try TrackerLocator.locate(explicit: options.trackerPath)
        try TrackerLocator.validate(tracker)
        let sessionPath = try SessionDirectory.prepare(options.outputDirectory, command: command)
        do {
            try Session.writeDescription(sessionPath: sessionPath, command: options.command, intervalSeconds: options.interval)
        } catch {
            throw .outputUnusable(path: sessionPath, reason: error.description)
        }
        // Said even with --quiet: otherwise the empty session would look like a program that never allocated.
        if let obstacle = PreloadCheck.obstacle(for: command) { progress.note(obstacle.message) }
        _ = mds_become_subreaper()
        mds_watch_signals()

        let pid: pid_t
        do {
            pid = try spawn(command: options.command, environment: environment(tracker: tracker, session: sessionPath))
        } catch {
            // Nothing ran: leave no empty session behind.
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: sessionPath)) ?? []
            if contents.allSatisfy({ $0 == Session.descriptionFileName || $0 == NodeHeapProbe.directoryName }) {
                try? FileManager.default.removeItem(atPath: sessionPath)
            }
            throw error
        }
        let status = supervise(pid: pid, session: sessionPath, tracker: tracker)
        progress.clear()
        SessionDirectory.removeTemporaryFiles(sessionPath)
        return RunResult(sessionPath: sessionPath, exitCode: status, pid: pid)
    }

    private func environment(tracker: String, session: String) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        let preload = env["LD_PRELOAD"].map { $0.isEmpty ? tracker : tracker + ":" + $0 } ?? tracker
        env["LD_PRELOAD"] = preload
        env["MEMDRIFT_OUTPUT"] = session
        env["MEMDRIFT_INTERVAL_MS"] = String(Int((options.interval * 1000).rounded()))
        env["MEMDRIFT_DEPTH"] = String(options.depth)
        env["MEMDRIFT_SAMPLE_RATE"] = String(options.sampleRate)
        if options.runtimeSupport {
            RuntimeSupport.enable(in: &env)
            do {
                env.merge(try NodeHeapProbe.install(sessionPath: session, environment: env)) { $1 }
            } catch {
                progress.note("\(error); the JavaScript heap is not recorded")
            }
        }
        return env
    }

    private func spawn(command: [String], environment: [String: String]) throws(RecordingError) -> pid_t {
        var cArguments = command.map { strdup($0) } + [nil]
        var cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        var error: Int32 = 0
        let pid = mds_spawn(command[0], &cArguments, &cEnvironment, &error)
        guard pid > 0 else {
            throw .commandNotStarted(command: command[0], reason: String(cString: strerror(error)), notFound: error == ENOENT)
        }
        return pid
    }

    /// Waits for the target, forwarding signals, stopping the tree after the duration. Returns the exit code.
    private func supervise(pid: pid_t, session: String, tracker: String) -> Int32 {
        let start = Date()
        let upkeep = RecordingUpkeep(
            session: session, interval: options.interval, duration: options.duration, quiet: options.quiet, tracker: tracker,
            perfMaps: options.runtimeSupport, pprofURL: options.pprofURL, goPID: pid, goStartup: 3,
            maxSessionSize: options.maxSessionSize,
            progress: progress)
        defer { upkeep.finish() }
        var interrupts = 0
        while true {
            if let code = reap(main: pid) { return code }

            var fromTerminal: Int32 = 0
            var signal = mds_take_signal(&fromTerminal)
            while signal != 0 {
                if signal == SIGINT { interrupts += 1 }
                if interrupts >= 3 {
                    progress.note("third interrupt: killing the process tree")
                    killTree(pid, SIGKILL)
                } else if fromTerminal == 0 {
                    // The terminal already delivered it to the whole foreground group.
                    requestFinalSnapshots(upkeep, tracker: tracker)
                    kill(pid, signal)
                }
                signal = mds_take_signal(&fromTerminal)
            }

            let elapsed = Date().timeIntervalSince(start)
            if let duration = options.duration, elapsed >= duration {
                progress.clear()
                if !options.quiet {
                    progress.note("duration reached after \(Units.formatDuration(elapsed)): stopping the process tree")
                }
                requestFinalSnapshots(upkeep, tracker: tracker)
                upkeep.sampleNow(ProcessTree.descendants(of: getpid()))
                let code = stop(pid)
                // Dying from our own stop signal is the planned end of the run, not a failure.
                return code == 128 + SIGTERM || code == 128 + SIGKILL ? 0 : code
            }
            upkeep.turn(tree: { ProcessTree.descendants(of: getpid()) }, elapsed: elapsed)
            // Sleeps until the next status update is due, but wakes the moment the target exits.
            _ = mds_wait_for_exit(pid, 100)
        }
    }

    /// Reaps every exited child (orphans re-parent to us); the main one's exit code once it ended.
    private func reap(main: pid_t) -> Int32? {
        var result: Int32?
        while true {
            var status: Int32 = 0
            let reaped = waitpid(-1, &status, WNOHANG)
            if reaped <= 0 { break }
            if reaped == main { result = exitCode(status) }
        }
        return result
    }

    private func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    /// Asks every traced process for a snapshot and waits briefly for them, so the last interval is kept.
    ///
    /// Traced processes are found in /proc (those with the tracker mapped), not in the session: a
    /// process stopped before its first interval has written nothing yet and must still answer.
    private func requestFinalSnapshots(_ upkeep: RecordingUpkeep, tracker: String) {
        let library = Path.canonical(tracker)  // /proc/PID/maps names the file, not the link to it
        let traced = ProcessTree.descendants(of: getpid()).filter { ProcessTree.hasMapped(library, in: $0) }
        guard !traced.isEmpty else { return }
        let before = upkeep.refresh()
        guard (try? Session.requestSnapshot(sessionPath: upkeep.session)) != nil else { return }
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline {
            usleep(50_000)
            if upkeep.refresh() >= before + traced.count { return }
            if !traced.contains(where: ProcessTree.isRunning) { return }
        }
    }

    /// SIGTERM to the whole tree, SIGKILL after the grace period; returns the main exit code.
    private func stop(_ pid: pid_t) -> Int32 {
        killTree(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(options.grace)
        var code: Int32?
        while Date() < deadline {
            if let c = reap(main: pid) { code = c }
            if code != nil && ProcessTree.descendants(of: getpid()).isEmpty { return code ?? 0 }
            if code == nil { _ = mds_wait_for_exit(pid, 50) } else { usleep(20_000) }
        }
        if code == nil || !ProcessTree.descendants(of: getpid()).isEmpty {
            if !options.quiet { progress.note("still running after \(Units.formatDuration(options.grace)): sending SIGKILL") }
            killTree(pid, SIGKILL)
        }
        while code == nil {
            var status: Int32 = 0
            let reaped = waitpid(-1, &status, 0)
            if reaped == pid { code = exitCode(status) } else if reaped < 0 && errno != EINTR { break }
        }
        _ = reap(main: pid)
        return code ?? 128 + SIGKILL
    }

    /// Signals the main process and every descendant of this recorder (orphans included).
    private func killTree(_ pid: pid_t, _ signal: Int32) {
        kill(pid, signal)
        for descendant in ProcessTree.descendants(of: getpid()) where descendant != pid { kill(descendant, signal) }
    }
}
