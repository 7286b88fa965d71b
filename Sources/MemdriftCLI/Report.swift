import ArgumentParser
import FoundationEssentials
import MemdriftCore
import MemdriftExport

extension Memdrift {
    /// `memdrift report`: the verdict per process and its leak suspects.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Judge a session: per process, the heap and RSS trends, a verdict and the leaking call sites.",
            discussion: """
                After the warm-up, each call site's live heap is fitted with a robust slope (Theil-Sen) and
                tested for a trend (Mann-Kendall); plateaus and sawtooth cycles are told apart from leaks.
                Process verdicts: leak (the heap grows and call sites explain it), growth (memory grows but
                no call site explains it: RSS without heap, mmap, fragmentation), stable, inconclusive (too
                few snapshots). See docs/verdict.md.
                """)

        @Argument(help: "The session directory.")
        var session: String

        @Flag(name: .long, help: "Print the memdrift.report/1 JSON document instead of text.")
        var json = false

        @Option(name: .long, help: "Also write a self-contained HTML report (charts, suspects, growth flame graph) to this file.")
        var html: String?

        @OptionGroup var analysis: AnalysisOptionGroup

        mutating func run() throws {
            let result = try analysis.analyze(session)
            if let html {
                let stamp = Timestamp.iso8601(Date())
                let data = try userFacing {
                    try HTMLReportBuilder.data(
                        for: result, options: try analysis.options(), stacks: analysis.stackSymbolizer(), generatedAt: stamp)
                }
                do {
                    try Data(HTMLReport.render(data).utf8).write(to: URL(fileURLWithPath: html))
                } catch {
                    throw UserFacingError(message: "cannot write \(html): \(error.fileErrorReason)", exitCode: 2)
                }
            }
            print(json ? ReportJSON.render(result) : ReportText().render(result), terminator: "")
        }
    }
}
