import ArgumentParser

extension Memdrift {
    /// `memdrift gate`: pass or fail an endurance run.
    struct GateCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gate",
            abstract: "Pass or fail an endurance run on memory growth (exit 0 pass, 1 fail, 2 bad input).",
            discussion: """
                Fails when a process's verdict is in --fail-on (default: leak) or a threshold is exceeded.
                Slopes and growth are measured after the warm-up. Suppressions (--suppressions) take
                accepted call sites out of the verdict. See docs/endurance-gate.md.
                """)

        @Argument(help: "The session directory.")
        var session: String

        @OptionGroup var gate: GateOptionGroup
        @OptionGroup var analysis: AnalysisOptionGroup

        mutating func run() throws {
            throw ExitCode(try gate.apply(to: try analysis.analyze(session)))
        }
    }
}
