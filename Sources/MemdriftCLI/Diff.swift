import ArgumentParser
import FoundationEssentials
import MemdriftAnalysis
import MemdriftCore
import MemdriftExport

extension Memdrift {
    /// `memdrift diff`: growth by call site between two snapshots.
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show growth by call site between two snapshots, or across a session.",
            discussion: """
                diff A B compares two snapshot files (A.mds, B.mds), from one run or from two runs of the same program: call sites match by build-id and offset, and by function name in modules rebuilt in between. A session directory stands for the last judged snapshot of its first process.

                diff SESSION compares, for each process, the first snapshot after the warm-up with the last one judged (a final snapshot at exit is not).
                """)

        @Argument(help: "A snapshot file, or a session directory.")
        var before: String

        @Argument(help: "The later snapshot file or session (omit to diff within the session BEFORE).")
        var after: String?

        @Option(name: .long, help: "Rows to show.")
        var top = 20

        @Option(name: .long, help: "Group rows by stack, function (first user-code frame) or module.")
        var by: Grouping = .stack

        @Option(name: .long, help: "Hide rows that changed by less than this (e.g. 64KiB).", transform: Units.bytes)
        var minBytes: UInt64 = 1

        @Flag(name: .long, help: "Print the memdrift.diff/1 JSON document instead of text.")
        var json = false

        @OptionGroup var analysis: AnalysisOptionGroup

        mutating func run() throws {
            guard top > 0 else { throw UserFacingError(message: "--top must be at least 1", exitCode: 2) }
            let options = try analysis.options()
            let comparer = SnapshotComparer(names: analysis.stackSymbolizer(), suppressions: options.suppressions)
            var diffs: [SnapshotDiff] = []
            if let after {
                let a = try single(before), b = try single(after)
                diffs.append(comparer.diff(a, b, grouping: by))
            } else {
                let session = try analysis.read(before, .liveOnly)
                for t in session.processes {
                    guard let (from, to) = SampleSelection.window(t, options: options), from < to else { continue }
                    diffs.append(comparer.diff(SampleRef(t, from), SampleRef(t, to), grouping: by))
                }
                if diffs.isEmpty {
                    throw UserFacingError(message: "\(before): no process has two snapshots to compare", exitCode: 2)
                }
            }
            let text = DiffText(top: top, minimumBytes: minBytes)
            print(json ? DiffJSON.render(diffs, selection: text) : diffs.map(text.render).joined(separator: "\n"), terminator: "")
        }

        /// The one sample a path stands for.
        private func single(_ path: String) throws -> SampleRef {
            let session = try analysis.read(path, .liveOnly)
            let isFile = !FileManager.default.isDirectory(path)
            guard let sample = SampleSelection.single(session, isFile: isFile) else {
                throw UserFacingError(message: "\(path) holds no snapshots yet", exitCode: 2)
            }
            return sample
        }
    }
}

extension Grouping: ExpressibleByArgument {}

extension FileManager {
    /// Whether `path` is a directory (following links).
    func isDirectory(_ path: String) -> Bool {
        var directory = false
        return fileExists(atPath: path, isDirectory: &directory) && directory
    }
}
