import ArgumentParser
import MemdriftAnalysis
import MemdriftCore
import MemdriftExport
import MemdriftRecording
import MemdriftSymbolization

extension Memdrift {
    /// `memdrift run`: record a command under the tracker.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command with the tracker preloaded and record snapshots of its heap.",
            discussion: """
                Writes a session directory with one series of snapshots per process (children and exec'd images included), shows a live status line for the whole process tree, and prints a summary and the verdict at the end. The command's stdin, stdout, stderr and exit code are left untouched; memdrift writes only to stderr.

                Exit code: the command's (128+N when signal N ended it; 127 when it was not found); 0 when --duration stopped it and it died of that SIGTERM or SIGKILL. With --gate (or any gate option, which implies it), the gate's thresholds are applied at the end and its exit code is returned.

                Ctrl-C reaches the command as usual; a third Ctrl-C kills the whole tree. While it runs, `memdrift snapshot SESSION` asks every process for a snapshot now.
                """)

        @Option(
            name: .long, help: "Stop the process tree after this long (e.g. 90s, 30m, 2h). Default: wait for it to exit.",
            transform: Units.seconds)
        var duration: Double?

        @Option(name: .long, help: "Time between snapshots (at least 100ms). Default: 10s.", transform: Units.seconds)
        var interval: Double = 10

        @Option(
            name: [.short, .long],
            help: "Session directory to create (must not exist or be empty). Default: ./memdrift-<command>-<time>[-N].")
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

        @Option(
            name: .long, help: "Time between SIGTERM and SIGKILL when --duration stops the tree. Default: 5s.",
            transform: Units.seconds)
        var grace: Double = 5

        @Flag(name: [.short, .long], help: "Print nothing: no status line, no summary (the session is still written).")
        var quiet = false

        @Option(
            name: .long,
            help: ArgumentHelp(
                "A Go net/http/pprof heap endpoint of the command to fetch every interval (e.g. http://127.0.0.1:6060/debug/pprof/heap).",
                discussion:
                    "Its live heap (go.inuse) is judged by Go function and file:line like the native heap. http only; one warning when the endpoint is down, slow or not serving pprof."
            ))
        var pprofURL: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The most the session may take on disk (e.g. 500MB, 2GiB). Default: 1GiB.",
                discussion:
                    "Past it, the middle of every series is thinned: each snapshot there is folded into the next, keeping every change but half the resolution; the start, where the warm-up ends, and the most recent fifth keep every snapshot."
            ),
            transform: Units.bytes)
        var maxSessionSize: UInt64 = 1 << 30

        @Flag(
            name: .long,
            help: ArgumentHelp(
                "Leave the runtimes' options alone.",
                discussion:
                    "By default run asks the runtimes it recognises to name their JIT and interpreter code in a perf map it copies into the session: NODE_OPTIONS gets --perf-basic-prof-only-functions, ERL_FLAGS +JPperf true, and PYTHONPERFSUPPORT=1 is set (CPython 3.12+)."
            ))
        var noRuntimeSupport = false

        @Flag(
            name: .long,
            help: "Apply the gate's thresholds at the end and exit with its code (0 pass, 1 fail); implied by any gate option.")
        var gate = false

        @OptionGroup var thresholds: GateOptionGroup
        @OptionGroup var analysis: AnalysisOptionGroup

        @Argument(parsing: .captureForPassthrough, help: "The command to run and its arguments, after '--'.")
        var command: [String] = []

        mutating func run() throws {
            // Captured with the command, since anything after the options may be the command's own.
            if ["-h", "--help"].contains(command.first) { throw CleanExit.helpRequest(self) }
            var gating = gate
            if !gate && thresholds.isGiven {
                // Gate options mean the user wants the run gated: a JUnit file nobody writes fails CI silently.
                gating = true
                if !quiet { StandardError.write("memdrift: gate options given: the run is gated, exit code is the gate's\n") }
            }
            var options = RunOptions(command: try Self.command(command))
            options.duration = duration
            options.interval = interval
            options.outputDirectory = output
            options.trackerPath = tracker
            options.depth = depth
            options.sampleRate = sampleRate
            options.grace = grace
            options.quiet = quiet
            options.runtimeSupport = !noRuntimeSupport
            options.pprofURL = pprofURL
            options.maxSessionSize = maxSessionSize
            _ = try analysis.options()  // reject bad analysis flags before the run, not after it
            let result = try userFacing { try Recorder(options: options).run() }
            guard gating || !quiet else { throw ExitCode(result.exitCode) }
            let verdict: SessionAnalysis
            do {
                verdict = try analysis.judge(result.sessionPath, reportWarnings: false).1
            } catch {
                // A run that wrote nothing cannot be judged; without --gate that is not an error.
                if gating { throw error }
                StandardError.write(
                    "memdrift: session \(result.sessionPath): no snapshots were written (was the program static, setuid, or gone before the tracker started?)\n"
                )
                throw ExitCode(result.exitCode)
            }
            if !quiet { StandardError.write(RunSummaryText().render(verdict)) }
            guard gating else { throw ExitCode(result.exitCode) }
            throw ExitCode(try thresholds.apply(to: verdict, toStandardError: true))
        }

        /// The command after `--`; an option memdrift does not know, given before `--`, is a usage error
        /// rather than a program to run.
        static func command(_ arguments: [String]) throws -> [String] {
            let command = arguments.first == "--" ? Array(arguments.dropFirst()) : arguments
            if arguments.first != "--", let first = arguments.first, first.hasPrefix("-"), first.count > 1 {
                throw UserFacingError(message: "unknown option '\(first)' (see 'memdrift help run')", exitCode: 2)
            }
            return command
        }
    }
}
