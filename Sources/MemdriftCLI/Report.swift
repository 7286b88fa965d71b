import ArgumentParser
import FoundationEssentials
import MemdriftCore
import MemdriftExport

extension Memdrift {
    /// `memdrift report`: the verdict per process and its leak suspects.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Judge a session: per process, the trends of its memory, a verdict and the leaking call sites.",
            discussion: """
                After the warm-up, each call site's live memory is fitted with a robust slope (Theil-Sen) and tested for a trend (Mann-Kendall); plateaus and sawtooth cycles are told apart from leaks. A final snapshot taken while a process exits or execs is shown but never judged.

                Process verdicts: leak (a call site leaks, whatever the totals do), growth (memory grows but no call site explains it: mmap, fragmentation, many small sites), stable, inconclusive (too few snapshots). See docs/verdict.md.
                """)

        @Argument(help: "The session directory.")
        var session: String

        @Flag(name: .long, help: "Print the memdrift.report/1 JSON document instead of text.")
        var json = false

        @Option(name: .long, help: "Also write a self-contained HTML report (charts, suspects, growth flame graph) to this file.")
        var html: String?

        @OptionGroup var analysis: AnalysisOptionGroup

        mutating func run() throws {
            let (timelines, result) = try analysis.judge(session, reportWarnings: false)
            if let html {
                let data = HTMLReportBuilder.data(
                    for: result, timelines: timelines, names: analysis.stackSymbolizer(),
                    generatedAt: Timestamp.iso8601(Date()))
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
