import ArgumentParser
import MemdriftAnalysis
import MemdriftCore
import MemdriftExport
import MemdriftRecording

extension Memdrift {
    /// `memdrift watch`: record processes that are already running, without injecting anything.
    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record already-running processes from /proc, without injecting anything.",
            discussion: """
                Samples the RSS (anon, file, shmem) of each PID and of all its descendants, also those started later, every interval, into a session directory that every command reads. Nothing is loaded into the processes, so there are no call sites: the verdict is judged on RSS. A process that exits keeps what was recorded.

                Recording ends after --duration, when every watched process is gone, or at Ctrl-C; then it prints the summary and the verdict. Exit code: 0, or the gate's with --gate (or any gate option).
                """)

        @Argument(help: "The processes to record.")
        var pids: [Int32] = []

        @Option(
            name: .long, help: "Stop after this long (e.g. 90s, 30m, 2h). Default: until the processes are gone.",
            transform: Units.seconds)
        var duration: Double?

        @Option(name: .long, help: "Time between samples (at least 100ms). Default: 10s.", transform: Units.seconds)
        var interval: Double = 10

        @Option(
            name: [.short, .long],
            help: "Session directory to create (must not exist or be empty). Default: ./memdrift-<command>-<time>[-N].")
        var output: String?

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
            help: "Apply the gate's thresholds at the end and exit with its code (0 pass, 1 fail); implied by any gate option.")
        var gate = false

        @OptionGroup var thresholds: GateOptionGroup
        @OptionGroup var analysis: AnalysisOptionGroup

        mutating func run() throws {
            let gating = gate || thresholds.isGiven
            var options = WatchOptions(pids: pids)
            options.duration = duration
            options.interval = interval
            options.outputDirectory = output
            options.quiet = quiet
            options.pprofURL = pprofURL
            options.maxSessionSize = maxSessionSize
            _ = try analysis.options()
            let session = try userFacing { try ProcessWatcher(options: options).run() }
            guard gating || !quiet else { return }
            let verdict = try analysis.judge(session, reportWarnings: false).1
            if !quiet { StandardError.write(RunSummaryText().render(verdict)) }
            guard gating else { return }
            throw ExitCode(try thresholds.apply(to: verdict))
        }
    }
}
