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

        @Flag(
            name: .long,
            help: ArgumentHelp(
                "Leave the runtimes' options alone.",
                discussion:
                    "By default run asks the runtimes it recognises to name their JIT and interpreter code in a perf map it copies into the session: NODE_OPTIONS gets --perf-basic-prof-only-functions and ERL_FLAGS +JPperf true. CPython needs nothing: the tracker reads its frames (3.11-3.13) itself."
            ))
        var noRuntimeSupport = false

        @OptionGroup var recording: RecordingOptionGroup
        @OptionGroup var thresholds: GateOptionGroup
        @OptionGroup var analysis: AnalysisOptionGroup

        @Argument(parsing: .captureForPassthrough, help: "The command to run and its arguments, after '--'.")
        var command: [String] = []

        mutating func run() throws {
            // Captured with the command, since anything after the options may be the command's own.
            if ["-h", "--help"].contains(command.first) { throw CleanExit.helpRequest(self) }
            let gating = recording.gating(thresholds)
            var options = RunOptions(command: try Self.command(command))
            options.duration = recording.duration
            options.interval = recording.interval
            options.outputDirectory = recording.output
            options.trackerPath = tracker
            options.depth = depth
            options.sampleRate = sampleRate
            options.grace = grace
            options.quiet = recording.quiet
            options.runtimeSupport = !noRuntimeSupport
            options.pprofURL = recording.pprofURL
            options.maxSessionSize = recording.maxSessionSize
            _ = try analysis.options()  // reject bad analysis flags before the run, not after it
            let result = try userFacing { try Recorder(options: options).run() }
            try recording.conclude(
                result.sessionPath, exitCode: result.exitCode, gating: gating, thresholds: thresholds, analysis: analysis)
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
