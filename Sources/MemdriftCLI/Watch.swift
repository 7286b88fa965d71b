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
                Samples the RSS (anon, file, shmem) of each PID and of all its descendants, also those started later, every interval, into a session directory that every command reads. Nothing is loaded into the processes, so call sites come only from a Go heap profile (--pprof-url); otherwise the verdict is judged on RSS. A process that exits keeps what was recorded.

                Recording ends after --duration, when every watched process is gone, or at Ctrl-C; then it prints the summary and the verdict. Exit code: 0, or the gate's with --gate (or any gate option).
                """)

        @Argument(help: "The processes to record.")
        var pids: [Int32] = []

        @OptionGroup var recording: RecordingOptionGroup
        @OptionGroup var thresholds: GateOptionGroup
        @OptionGroup var analysis: AnalysisOptionGroup

        mutating func run() throws {
            let gating = recording.gating(thresholds)
            var options = WatchOptions(pids: pids)
            options.duration = recording.duration
            options.interval = recording.interval
            options.outputDirectory = recording.output
            options.quiet = recording.quiet
            options.pprofURL = recording.pprofURL
            options.maxSessionSize = recording.maxSessionSize
            _ = try analysis.options()
            let session = try userFacing { try ProcessWatcher(options: options).run() }
            try recording.conclude(session, exitCode: 0, gating: gating, thresholds: thresholds, analysis: analysis)
        }
    }
}
