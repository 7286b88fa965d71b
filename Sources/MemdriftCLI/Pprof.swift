import ArgumentParser
import FoundationEssentials
import MemdriftAnalysis
import MemdriftCore
import MemdriftExport
import MemdriftPprof

extension Memdrift {
    /// `memdrift pprof`: a gzipped profile.proto for `go tool pprof`.
    struct Pprof: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a gzipped pprof heap profile (alloc/inuse objects and space) for go tool pprof.",
            discussion: """
                A snapshot file gives its process's profile; a session gives the last judged snapshot of every process, each sample tagged with its pid (select one with go tool pprof -tagfocus 'pid=^123$'). With --base, values are the change since that snapshot: a growth profile. View it with `go tool pprof -top -sample_index=inuse_space FILE` or `go tool pprof -http=: FILE`.
                """)

        @Argument(help: "A session directory or a snapshot file.")
        var input: String

        @Option(name: .long, help: "An earlier snapshot file: write the growth since it.")
        var base: String?

        @Option(name: [.short, .customLong("output")], help: "The profile file to write.")
        var output: String

        @OptionGroup var analysis: AnalysisOptionGroup

        mutating func run() throws {
            let options = try analysis.options()
            var builder = PprofBuilder(names: analysis.stackSymbolizer(), suppressions: options.suppressions)
            let baseSample = try base.map { path in
                try SampleSelection.single(analysis.read(path), isFile: true).orThrow("\(path) holds no snapshot")
            }
            if FileManager.default.isDirectory(input) {
                let session = try analysis.read(input)
                for t in session.processes {
                    guard let last = SampleSelection.last(t) else { continue }
                    let base = baseSample.flatMap { $0.timeline.pid == t.pid || session.processes.count == 1 ? $0 : nil }
                    builder.add(SampleRef(t, last), base: base, labels: ["pid": String(t.pid)])
                }
            } else {
                let sample = try SampleSelection.single(analysis.read(input), isFile: true).orThrow("\(input) holds no snapshot")
                builder.add(sample, base: baseSample)
            }
            let bytes = PprofEncoder.encode(builder.result)
            do {
                try Data(bytes).write(to: URL(fileURLWithPath: output))
            } catch {
                throw UserFacingError(message: "cannot write \(output): \(error.fileErrorReason)", exitCode: 2)
            }
        }
    }
}

extension Optional {
    /// The value, or a usage error with `message`.
    func orThrow(_ message: String) throws -> Wrapped {
        guard let value = self else { throw UserFacingError(message: message, exitCode: 2) }
        return value
    }
}
