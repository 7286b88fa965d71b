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
                Feed the output to flamegraph.pl (flamegraph.pl growth.folded > growth.svg), inferno (inferno-flamegraph < growth.folded > growth.svg) or speedscope (open the file). With --diff, lines are `stack before after`, the input of difffolded.pl's output format that flamegraph.pl and inferno-flamegraph draw as a differential flame graph.

                For a session, every process's stacks start with a `pid N: command` frame when it has several processes; --from and --to are snapshot sequence numbers (default: the first snapshot after the warm-up and the last one judged; live takes no --from). For a snapshot file, --from may name an earlier snapshot file, of the same run or of another run of the same program. Semicolons inside names become ':' and line breaks spaces.
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
            let options = try analysis.options()
            let builder = FoldedStacks(names: analysis.stackSymbolizer(), lines: lines, suppressions: options.suppressions)
            var all: [FoldedStack] = []
            if FileManager.default.isDirectory(input) {
                let session = try analysis.read(input)
                for t in session.processes {
                    guard let (before, after) = try pick(t, options: options) else { continue }
                    let root = session.processes.count > 1 ? "pid \(t.pid): \(t.commandLine.first ?? t.executable)" : nil
                    all += builder.build(
                        from: before.map { SampleRef(t, $0) }, to: SampleRef(t, after), metric: diff ? .live : metric, root: root)
                }
            } else {
                guard to == nil else {
                    throw UserFacingError(
                        message: "--to takes a sequence number and needs a session; for files pass the later snapshot as INPUT",
                        exitCode: 2)
                }
                let after = try sample(input)
                let before = try from.map(sample)
                all = builder.build(from: before, to: after, metric: diff ? .live : metric)
            }
            print(FoldedStacks.render(all, differential: diff), terminator: "")
        }

        private func sample(_ file: String) throws -> SampleRef {
            let session = try analysis.read(file)
            guard let sample = SampleSelection.single(session, isFile: true) else {
                throw UserFacingError(message: "\(file) holds no snapshot", exitCode: 2)
            }
            return sample
        }

        /// The samples to compare within one timeline, or nil when it has none judged.
        private func pick(_ t: ProcessTimeline, options: AnalysisOptions) throws -> (Int?, Int)? {
            guard let window = SampleSelection.window(t, options: options) else { return nil }
            func find(_ sequence: UInt64) throws -> Int {
                guard let index = SampleSelection.sample(t, sequence: sequence) else {
                    throw UserFacingError(message: "\(t.name) has no snapshot #\(sequence)", exitCode: 2)
                }
                return index
            }
            let after = try to.map(find) ?? window.to
            if let from {
                guard let sequence = UInt64(from) else {
                    throw UserFacingError(
                        message: "--from \(from): give a snapshot sequence number for a session", exitCode: 2)
                }
                return (try find(sequence), after)
            }
            // Live bytes need no earlier snapshot; growth, differential graphs and allocations
            // made count from the end of the warm-up.
            guard metric != .live || diff else { return (nil, after) }
            return (window.from, after)
        }
    }
}
