import ArgumentParser
import Foundation
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
                """)

        @Option(name: .long, help: "Stop the process tree after this long (e.g. 90s, 30m, 2h). Default: wait for it to exit.", transform: Parse.seconds)
        var duration: Double?

        @Option(name: .long, help: "Time between snapshots (at least 100ms).", transform: Parse.seconds)
        var interval: Double = 10

        @Option(name: [.short, .long], help: "Session directory to create (must not exist or be empty). Default: ./memdrift-<command>-<time>.")
        var output: String?

        @Option(name: .long, help: "Path of libmemdrift-preload.so. Default: next to the memdrift executable.")
        var tracker: String?

        @Option(name: .long, help: "Most frames recorded per call stack (1-256).")
        var depth: Int = 64

        @Option(name: .long, help: "Time between SIGTERM and SIGKILL when --duration stops the tree.", transform: Parse.seconds)
        var grace: Double = 5

        @Flag(name: .long, help: "Show allocator, runtime and tracker frames too, instead of starting at the code that asked for memory.")
        var fullStacks = false

        @Flag(name: [.short, .long], help: "Print nothing: no status line, no summary (the session is still written).")
        var quiet = false

        @Argument(parsing: .captureForPassthrough, help: "The command to run and its arguments, after '--'.")
        var command: [String] = []

        mutating func run() throws {
            var options = RunOptions(command: command.first == "--" ? Array(command.dropFirst()) : command)
            options.duration = duration
            options.interval = interval
            options.outputDirectory = output
            options.trackerPath = tracker
            options.depth = depth
            options.grace = grace
            options.quiet = quiet
            let recorder = Recorder(options: options)
            recorder.summary = RunSummary(stacks: StackSymbolizer(fullStacks: fullStacks))
            let result = try userFacing { try recorder.run() }
            throw ExitCode(result.exitCode)
        }
    }
}
