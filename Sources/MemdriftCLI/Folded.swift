import ArgumentParser
import FoundationEssentials
import MemdriftAnalysis
import MemdriftCore
import MemdriftExport

extension FoldedMetric: ExpressibleByArgument {}

extension Memdrift {
    /// `memdrift folded`: flame-graph input.
    struct Folded: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print folded stacks (root;...;leaf value) for flame graphs.",
            discussion: """
                Feed the output to flamegraph.pl (flamegraph.pl growth.folded > growth.svg), inferno
                (inferno-flamegraph < growth.folded > growth.svg) or speedscope (open the file).
                With --diff, lines are `stack before after` for difflamegraph.pl and inferno-diff-folded.
                For a session, every process's stacks start with a `pid N: command` frame when it has
                several processes; --from and --to are snapshot sequence numbers (default: the first
                snapshot after the warm-up and the last). For a snapshot file, --from may name an
                earlier snapshot file, of the same run or of another run of the same program.
                Semicolons inside names become ':' and line breaks spaces.
                """)

        @Argument(help: "A session directory or a snapshot file.")
        var input: String

        @Option(
            name: .long,
            help: "live (bytes at the end), growth (bytes gained), allocs or alloc-bytes (made between the snapshots).")
        var metric: FoldedMetric = .growth

        @Option(name: .long, help: "The earlier snapshot: a sequence number in a session, or a snapshot file.")
        var from: String?

        @Option(name: .long, help: "The later snapshot's sequence number in a session.")
        var to: UInt64?

        @Flag(name: .long, help: "Print `stack before after` for differential flame graphs.")
        var diff = false

        @Flag(name: .long, help: "Add (file:line) to every frame.")
        var lines = false

        @OptionGroup var analysis: AnalysisOptionGroup

        mutating func run() throws {
            let builder = FoldedStacks(stacks: analysis.stackSymbolizer(), lines: lines)
            var all: [FoldedStack] = []
            var isDirectory = false
            if FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), isDirectory {
                let session = try userFacing { try SnapshotInput.session(input) }
                let options = try analysis.options()
                for series in session.series {
                    guard let (beforePath, afterPath) = try pick(series, options: options) else { continue }
                    let before = try beforePath.map { path in try userFacing { try SnapshotReader.read(path: path) } }
                    let after = try userFacing { try SnapshotReader.read(path: afterPath) }
                    let root =
                        session.series.count > 1 ? "pid \(series.pid): \(after.commandLine.first ?? after.executable)" : nil
                    all += builder.build(from: before, to: after, metric: metric, root: root)
                }
            } else {
                guard to == nil else {
                    throw UserFacingError(
                        message: "--to takes a sequence number and needs a session; for files pass the later snapshot as INPUT",
                        exitCode: 2)
                }
                let after = try userFacing { try SnapshotReader.read(path: input) }
                let before = try from.map { path in try userFacing { try SnapshotReader.read(path: path) } }
                all = builder.build(from: before, to: after, metric: diff ? .live : metric)
            }
            print(FoldedStacks.render(all, differential: diff), terminator: "")
        }

        /// The files of the snapshots to compare within one series, or nil when it has none.
        /// Only headers are read to choose them.
        private func pick(_ series: SnapshotSeries, options: AnalysisOptions) throws -> (String?, String)? {
            let headers = try userFacing { try series.loadHeaders() }
            guard let last = series.snapshotPaths.last else { return nil }
            func find(_ sequence: UInt64) -> String? {
                headers.firstIndex { $0.sequence == sequence }.map { series.snapshotPaths[$0] }
            }
            let after =
                try to.map { seq in
                    guard let path = find(seq) else {
                        throw UserFacingError(message: "\(series.name) has no snapshot #\(seq)", exitCode: 2)
                    }
                    return path
                } ?? last
            if let from {
                guard let seq = UInt64(from), let path = find(seq) else {
                    throw UserFacingError(
                        message: "--from \(from): \(series.name) has no such snapshot (give a sequence number for a session)",
                        exitCode: 2)
                }
                return (path, after)
            }
            // Growth and differential graphs compare with the end of the warm-up; cumulative
            // counters and live bytes need no earlier snapshot.
            guard metric == .growth || diff else { return (nil, after) }
            return (series.snapshotPaths[options.firstIndexAfterWarmup(headers.map(\.elapsedSeconds))], after)
        }
    }
}
