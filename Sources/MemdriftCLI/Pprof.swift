import ArgumentParser
import FoundationEssentials
import MemdriftCore
import MemdriftExport

extension Memdrift {
    /// `memdrift pprof`: a gzipped profile.proto for `go tool pprof`.
    struct Pprof: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a gzipped pprof heap profile (alloc/inuse objects and space) for go tool pprof.",
            discussion: """
                A snapshot file gives its process's profile; a session gives the last snapshot of every
                process, each sample tagged with its pid (go tool pprof -tagfocus pid=123). With --base,
                values are the change since that snapshot: a growth profile. View it with
                `go tool pprof -top -sample_index=inuse_space FILE` or `go tool pprof -http=: FILE`.
                """)

        @Argument(help: "A session directory or a snapshot file.")
        var input: String

        @Option(name: .long, help: "An earlier snapshot file: write the growth since it.")
        var base: String?

        @Option(name: [.short, .customLong("output")], help: "The profile file to write.")
        var output: String

        @OptionGroup var analysis: AnalysisOptionGroup

        mutating func run() throws {
            var builder = PprofBuilder(stacks: analysis.stackSymbolizer())
            let baseSnapshot = try base.map { path in try userFacing { try SnapshotReader.read(path: path) } }
            var isDirectory = false
            if FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), isDirectory {
                let session = try userFacing { try SnapshotInput.session(input) }
                for series in session.series {
                    guard let last = series.snapshotPaths.last else { continue }
                    let snapshot = try userFacing { try SnapshotReader.read(path: last) }
                    let base = baseSnapshot.flatMap {
                        $0.header.pid == snapshot.header.pid || session.series.count == 1 ? $0 : nil
                    }
                    builder.add(snapshot, base: base, labels: ["pid": String(series.pid)])
                }
            } else {
                builder.add(try userFacing { try SnapshotReader.read(path: input) }, base: baseSnapshot)
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
