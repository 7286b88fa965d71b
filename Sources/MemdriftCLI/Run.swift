import ArgumentParser
import MemdriftAnalysis
import MemdriftCore
import MemdriftRecording
import MemdriftSymbolization

extension Memdrift {
    /// `memdrift run`: record a command under the tracker.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command with the tracker preloaded and record snapshots of its heap.",
            discussion: """
                Writes a session directory with one series of snapshots per process (children and exec'd
                images included), shows a live status line, and prints a summary per process at the end.
                The command's stdin, stdout, stderr and exit code are left untouched; memdrift writes only
                to stderr. Exit code: the command's (128+N when signal N ended it; 127 when it was not found);
                0 when --duration stopped it and it died of that SIGTERM or SIGKILL.
                Ctrl-C reaches the command as usual; a third Ctrl-C kills the whole tree.
                While it runs, `memdrift snapshot SESSION` asks every process for a snapshot now.
                With --gate, the gate's thresholds are applied at the end and its exit code is returned.
                """)

        @Option(
            name: .long, help: "Stop the process tree after this long (e.g. 90s, 30m, 2h). Default: wait for it to exit.",
            transform: Units.seconds)
        var duration: Double?

        @Option(name: .long, help: "Time between snapshots (at least 100ms).", transform: Units.seconds)
        var interval: Double = 10

        @Option(
            name: [.short, .long],
            help: "Session directory to create (must not exist or be empty). Default: ./memdrift-<command>-<time>.")
        var output: String?

        @Option(name: .long, help: "Path of libmemdrift-preload.so. Default: next to the memdrift executable.")
        var tracker: String?

        @Option(name: .long, help: "Most frames recorded per call stack (1-256).")
        var depth: Int = 64

        @Option(
            name: .long,
            help:
                "Sample allocations: one per this many bytes on average (e.g. 512KiB), large ones always. Figures become estimates. Default: record every allocation.",
            transform: Units.bytes)
        var sampleRate: UInt64 = 0

        @Option(name: .long, help: "Time between SIGTERM and SIGKILL when --duration stops the tree.", transform: Units.seconds)
        var grace: Double = 5

        @Flag(name: [.short, .long], help: "Print nothing: no status line, no summary (the session is still written).")
        var quiet = false

        @Flag(
            name: .long,
            help: "Apply the gate's thresholds at the end and exit with its code (0 pass, 1 fail) instead of the command's.")
        var gate = false

        @OptionGroup var thresholds: GateOptionGroup
        @OptionGroup var analysis: AnalysisOptionGroup

        @Argument(parsing: .captureForPassthrough, help: "The command to run and its arguments, after '--'.")
        var command: [String] = []

        mutating func run() throws {
            var options = RunOptions(command: command.first == "--" ? Array(command.dropFirst()) : command)
            options.duration = duration
            options.interval = interval
            options.outputDirectory = output
            options.trackerPath = tracker
            options.depth = depth
            options.sampleRate = sampleRate
            options.grace = grace
            options.quiet = quiet
            _ = try analysis.options()  // reject bad analysis flags before the run, not after it
            let recorder = Recorder(options: options)
            recorder.summary = RunSummary(stacks: analysis.stackSymbolizer())
            let result = try userFacing { try recorder.run() }
            guard gate || !quiet else { throw ExitCode(result.exitCode) }
            let verdict: SessionAnalysis
            do {
                verdict = try analysis.analyze(result.sessionPath)
            } catch {
                // A run that wrote nothing cannot be judged; without --gate that is not an error.
                if gate { throw error }
                throw ExitCode(result.exitCode)
            }
            if !quiet { StandardError.write(Self.verdictLine(verdict)) }
            guard gate else { throw ExitCode(result.exitCode) }
            throw ExitCode(try thresholds.apply(to: verdict))
        }

        /// One line naming the session's verdict and the process and call site behind it.
        static func verdictLine(_ analysis: SessionAnalysis) -> String {
            var line = "memdrift: verdict \(analysis.verdict.rawValue)"
            if let p = analysis.processes.first(where: { $0.verdict == analysis.verdict && $0.verdict != .stable }) {
                line += " (pid \(p.series.pid)"
                if let top = p.suspects.first?.frames.first { line += ": \(top.displayName)" }
                line += ")"
            }
            return line + "; details: memdrift report \(analysis.path)\n"
        }
    }
}
