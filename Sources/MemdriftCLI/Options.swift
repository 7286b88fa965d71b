import ArgumentParser
import FoundationEssentials
import MemdriftAnalysis
import MemdriftCore
import MemdriftExport
import MemdriftSymbolization

/// Options shared by every command that analyzes a session.
struct AnalysisOptionGroup: ParsableArguments {
    @Option(name: .long, help: "Warm-up excluded from trends: a fraction of the run (10%) or a duration (30s). Default: 10%.")
    var warmup: String?

    @Flag(name: .long, help: "Show allocator, runtime and tracker frames too.")
    var fullStacks = false

    @Option(name: .long, help: "LeakSanitizer-style suppressions (leak:PATTERN per line) for call sites you accept.")
    var suppressions: String?

    /// The analysis settings these flags describe.
    func options() throws -> AnalysisOptions {
        var options = AnalysisOptions()
        if let warmup {
            let text = warmup.trimmingSpacesAndTabs()
            if text.hasSuffix("%") {
                guard let percent = Double(text.dropLast()), percent >= 0, percent < 100 else {
                    throw UserFacingError(
                        message: "invalid warm-up '\(warmup)': expected a percentage below 100% or a duration such as 30s",
                        exitCode: 2)
                }
                options.setWarmup(fraction: percent / 100, seconds: 0)
            } else {
                options.setWarmup(fraction: 0, seconds: try userFacing { try Units.seconds(text) })
            }
        }
        if let suppressions { options.suppressions = try userFacing { try Suppressions.load(path: suppressions) } }
        return options
    }

    func stackSymbolizer() -> StackSymbolizer { StackSymbolizer(fullStacks: fullStacks) }

    func analyze(_ session: String) throws -> SessionAnalysis {
        let analyzer = SessionAnalyzer(stacks: stackSymbolizer(), options: try options())
        return try userFacing { try analyzer.analyze(sessionPath: session) }
    }
}

/// Thresholds of `gate` and `run --gate`.
struct GateOptionGroup: ParsableArguments {
    @Option(
        name: .long, help: "Fail when the heap grows faster than this after warm-up (e.g. 1MiB/h).", transform: Units.bytesPerHour
    )
    var maxHeapSlope: Double?

    @Option(
        name: .long, help: "Fail when RSS grows faster than this after warm-up (e.g. 10MiB/h).", transform: Units.bytesPerHour)
    var maxRssSlope: Double?

    @Option(
        name: .long, help: "Fail when the heap grows more than this after warm-up: a size (50MiB) or a percentage (20%).",
        transform: GateOptionGroup.growthLimit)
    var maxHeapGrowth: GrowthLimit?

    @Option(name: .long, help: "Fail when any snapshot shows more RSS than this (e.g. 2GiB).", transform: Units.bytes)
    var maxRss: UInt64?

    @Option(
        name: .long, help: "Process verdicts that fail the gate, comma-separated: leak, growth, inconclusive.",
        transform: GateOptionGroup.verdicts)
    var failOn: Set<ProcessVerdict> = [.leak]

    @Option(name: .long, help: "Also write the result as JUnit XML to this file.")
    var junit: String?

    var thresholds: GateThresholds {
        var t = GateThresholds()
        t.maxHeapSlope = maxHeapSlope
        t.maxRSSSlope = maxRssSlope
        t.maxHeapGrowth = maxHeapGrowth
        t.maxRSS = maxRss
        t.failOn = failOn
        return t
    }

    static func growthLimit(_ text: String) throws -> GrowthLimit {
        let t = text.trimmingSpacesAndTabs()
        if t.hasSuffix("%") {
            guard let percent = Double(t.dropLast()), percent >= 0 else {
                throw ValidationError("invalid growth limit '\(text)': expected a size such as 50MiB or a percentage such as 20%")
            }
            return .percent(percent)
        }
        return .bytes(try Units.bytes(t))
    }

    static func verdicts(_ text: String) throws -> Set<ProcessVerdict> {
        var result: Set<ProcessVerdict> = []
        for part in text.split(separator: ",") {
            let name = part.trimmingSpacesAndTabs()
            guard let verdict = ProcessVerdict(rawValue: name), verdict != .stable else {
                throw ValidationError("invalid verdict '\(name)': expected leak, growth or inconclusive")
            }
            result.insert(verdict)
        }
        return result
    }

    /// Applies the thresholds, prints the outcome, writes JUnit if asked; returns the exit code (0 pass, 1 fail).
    func apply(to analysis: SessionAnalysis) throws -> Int32 {
        let result = Gate.evaluate(analysis, thresholds: thresholds)
        print(GateText.render(result, session: analysis.path), terminator: "")
        if let junit {
            do {
                try Data(JUnitXML.render(result, session: analysis.path).utf8).write(to: URL(fileURLWithPath: junit))
            } catch {
                throw UserFacingError(message: "cannot write JUnit XML to \(junit): \(error.fileErrorReason)", exitCode: 2)
            }
        }
        return result.passed ? 0 : 1
    }
}
