import ArgumentParser

extension Memdrift {
    /// `memdrift gate`: pass or fail an endurance run.
    struct GateCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gate",
            abstract: "Pass or fail an endurance run on memory growth (exit 0 pass, 1 fail, 2 bad input).",
            discussion: """
                Fails when a process's verdict is leak (or in --fail-on) or a threshold is exceeded. Slopes and growth are measured after the warm-up; a sawtooth's slope is its floor's. Accepted call sites (--suppressions) and shared memory never fail a gate. See docs/endurance-gate.md.
                """)

        @Argument(help: "The session directory.")
        var session: String

        @OptionGroup var gate: GateOptionGroup
        @OptionGroup var analysis: AnalysisOptionGroup

        mutating func run() throws {
            throw ExitCode(try gate.apply(to: try analysis.judge(session).1))
        }
    }
}
