import ArgumentParser
import Foundation
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

        @OptionGroup var analysis: AnalysisOptionGroup

        mutating func run() throws {
            let result = try analysis.analyze(session)
            print(json ? ReportJSON.render(result) : ReportText().render(result), terminator: "")
        }
    }
}
