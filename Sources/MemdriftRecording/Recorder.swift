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
    /// Load the runtimes' own heap probes (Node.js: V8's sampling heap profiler) into the target.
    public var runtimeProbes = true

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
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var statusShown = false
    public var summary = RunSummary()

    /// Creates a recorder for `options`.
    public init(options: RunOptions) { self.options = options }

    /// Records the command; returns once it exited (or was stopped) and the summary is printed.
    public func run() throws(RecordingError) -> RunResult {
        guard let command = options.command.first, !command.isEmpty else { throw .emptyCommand }
        guard options.interval >= 0.1 else { throw .invalidOption("--interval must be at least 100ms") }
        guard options.depth >= 1 && options.depth <= 256 else { throw .invalidOption("--depth must be between 1 and 256") }
        if let duration = options.duration, duration <= 0 { throw .invalidOption("--duration must be positive") }

        let tracker = try TrackerLocator.locate(explicit: options.trackerPath)
        try TrackerLocator.validate(tracker)
        let sessionPath = try SessionDirectory.prepare(options.outputDirectory, command: command)
        do {
            try Session.writeDescription(sessionPath: sessionPath, command: options.command, intervalSeconds: options.interval)
        } catch {
            throw .outputUnusable(path: sessionPath, reason: error.description)
        }
        // Said even with --quiet: otherwise the empty session would look like a program that never allocated.
        if let obstacle = PreloadCheck.obstacle(for: command) { note(obstacle.message) }
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
        let status = supervise(pid: pid, session: sessionPath)
        clearStatus()
        if !options.quiet {
            let text = (try? summary.render(sessionPath: sessionPath, mainPID: pid)) ?? "memdrift: session \(sessionPath)\n"
            StandardError.write(text)
        }
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
        if options.runtimeProbes {
            do {
                env.merge(try NodeHeapProbe.install(sessionPath: session, environment: env)) { $1 }
            } catch {
                note("\(error); the JavaScript heap is not recorded")
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
    private func supervise(pid: pid_t, session: String) -> Int32 {
        let start = Date()
        var watcher = SessionWatcher(path: session)
        var lastProgress = Date.distantPast
        var lastReported = 0
        var interrupts = 0
        while true {
            if let code = reap(main: pid) { return code }

            var fromTerminal: Int32 = 0
            var signal = mds_take_signal(&fromTerminal)
            while signal != 0 {
                if signal == SIGINT { interrupts += 1 }
                if interrupts >= 3 {
                    note("third interrupt: killing the process tree")
                    killTree(pid, SIGKILL)
                } else if fromTerminal == 0 {
                    // The terminal already delivered it to the whole foreground group.
                    requestFinalSnapshots(watcher: &watcher, session: session)
                    kill(pid, signal)
                }
                signal = mds_take_signal(&fromTerminal)
            }

            let elapsed = Date().timeIntervalSince(start)
            if let duration = options.duration, elapsed >= duration {
                clearStatus()
                if !options.quiet { note("duration reached after \(Units.formatDuration(elapsed)): stopping the process tree") }
                requestFinalSnapshots(watcher: &watcher, session: session)
                let code = stop(pid)
                // Dying from our own stop signal is the planned end of the run, not a failure.
                return code == 128 + SIGTERM || code == 128 + SIGKILL ? 0 : code
            }

            if !options.quiet && Date().timeIntervalSince(lastProgress) >= 1 {
                lastProgress = Date()
                watcher.refresh()
                if isTerminal || watcher.snapshotCount != lastReported {
                    lastReported = watcher.snapshotCount
                    showStatus(status(&watcher, main: pid, elapsed: elapsed))
                }
            }
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
    private func requestFinalSnapshots(watcher: inout SessionWatcher, session: String) {
        watcher.refresh()
        let before = watcher.snapshotCount
        let running = Set(watcher.series.map(\.pid).filter { ProcessTree.isRunning($0) })
        guard !running.isEmpty, (try? Session.requestSnapshot(sessionPath: session)) != nil else { return }
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline {
            usleep(50_000)
            watcher.refresh()
            if watcher.snapshotCount >= before + running.count { return }
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
            if !options.quiet { note("still running after \(Units.formatDuration(options.grace)): sending SIGKILL") }
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

    private func status(_ watcher: inout SessionWatcher, main: pid_t, elapsed: Double) -> String {
        var parts = ["memdrift \(Units.formatDuration(elapsed))"]
        if let duration = options.duration { parts[0] += " of \(Units.formatDuration(duration))" }
        if let series = watcher.latestSeries(of: main), let (first, last) = watcher.endpoints(of: series) {
            parts.append("rss \(Units.formatBytes(last.figures.rss))")
            let heapChange = Int64(bitPattern: last.figures.heapLiveBytes &- first.figures.heapLiveBytes)
            parts.append("heap \(Units.formatBytes(last.figures.heapLiveBytes)) (\(Units.formatDelta(heapChange)))")
            if let top = StackGrowth.ranking(from: first, to: last).first, top.deltaBytes > 0,
                let leaf = summary.names(of: top.stack, in: last).first
            {
                parts.append("top \(leaf) \(Units.formatDelta(top.deltaBytes))")
            }
        } else {
            parts.append("waiting for the first snapshot")
        }
        let processes = Set(watcher.series.map(\.pid)).count
        parts.append("\(watcher.snapshotCount) snapshots, \(processes) process\(processes == 1 ? "" : "es")")
        return parts.joined(separator: " | ")
    }

    private func showStatus(_ line: String) {
        if isTerminal {
            StandardError.write("\r" + line + "\u{1B}[K")
            statusShown = true
        } else {
            StandardError.write(line + "\n")
        }
    }

    private func clearStatus() {
        guard statusShown else { return }
        StandardError.write("\r\u{1B}[K")
        statusShown = false
    }

    private func note(_ text: String) {
        clearStatus()
        StandardError.write("memdrift: \(text)\n")
    }
}
