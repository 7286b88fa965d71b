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
                diff A B compares two snapshot files (A.mds, B.mds), from one run or from two runs of the same
                program: frames match by build-id and offset, and by function name for modules rebuilt in
                between. A session directory stands for the last snapshot of its first process.
                diff SESSION compares, for each process, the first snapshot after the warm-up with the last.
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
            let comparer = SnapshotComparer(stacks: analysis.stackSymbolizer())
            var diffs: [SnapshotDiff] = []
            if let after {
                let a = try userFacing { try SnapshotInput.snapshot(before) }
                let b = try userFacing { try SnapshotInput.snapshot(after) }
                diffs.append(comparer.diff(a.snapshot, b.snapshot, grouping: by, paths: (a.path, b.path)))
            } else {
                let options = try analysis.options()
                let session = try userFacing { try SnapshotInput.session(before) }
                for series in session.series where series.snapshotPaths.count >= 2 {
                    let headers = try userFacing { try series.loadHeaders() }
                    let start = options.firstIndexAfterWarmup(headers.map(\.elapsedSeconds))
                    let firstPath = series.snapshotPaths[start], lastPath = series.snapshotPaths[series.snapshotPaths.count - 1]
                    let a = try userFacing { try SnapshotReader.read(path: firstPath) }
                    let b = try userFacing { try SnapshotReader.read(path: lastPath) }
                    diffs.append(comparer.diff(a, b, grouping: by, paths: (firstPath, lastPath)))
                }
                if diffs.isEmpty {
                    throw UserFacingError(message: "\(before): no process has two snapshots to compare", exitCode: 2)
                }
            }
            let text = DiffText(top: top, minimumBytes: minBytes)
            print(json ? DiffJSON.render(diffs, selection: text) : diffs.map(text.render).joined(separator: "\n"), terminator: "")
        }
    }
}

extension Grouping: ExpressibleByArgument {}

/// Resolves command-line paths to snapshots and sessions.
enum SnapshotInput {
    /// A snapshot file, or the last snapshot of a session's first-started process.
    static func snapshot(_ path: String) throws(FormatError) -> (snapshot: Snapshot, path: String) {
        var isDirectory = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory {
            let session = try Self.session(path)
            guard let main = try mainSeries(session), let last = main.snapshotPaths.last else { throw .emptySession(path: path) }
            return (try SnapshotReader.read(path: last), last)
        }
        return (try SnapshotReader.read(path: path), path)
    }

    /// A session with at least one snapshot.
    static func session(_ path: String) throws(FormatError) -> Session {
        let session = try Session.open(path)
        guard !session.series.isEmpty else { throw .emptySession(path: path) }
        return session
    }

    /// The series that started first: the command memdrift launched.
    static func mainSeries(_ session: Session) throws(FormatError) -> SnapshotSeries? {
        var best: (SnapshotSeries, UInt64)?
        for s in session.series {
            guard let first = s.snapshotPaths.first else { continue }
            let start = try SnapshotReader.readHeader(path: first).startWallClockNanos
            if best == nil || start < best!.1 { best = (s, start) }
        }
        return best?.0
    }
}
