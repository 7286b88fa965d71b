import ArgumentParser
import FoundationEssentials
import MemdriftAnalysis
import MemdriftCore
import MemdriftExport
import MemdriftPprof
import MemdriftSymbolization

/// One symbolizer for the whole command, so each module is read once and `main` can tell what was missing.
let sharedSymbolizer = Symbolizer()

/// Options shared by every command that reads a session.
struct AnalysisOptionGroup: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Warm-up excluded from trends: a fraction of the run (20%) or a minimum duration (2m).",
            discussion: "A duration keeps the 10% default too: the larger of the two applies."))
    var warmup: String?

    @Flag(name: .long, help: "Show allocator, runtime and tracker frames too.")
    var fullStacks = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "LeakSanitizer-style suppressions (leak:PATTERN per line) for call sites you accept.",
            discussion: "Accepted call sites never make a leak or fail a gate; diff, folded and pprof leave them out."))
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
                // A minimum: the 10% fraction still applies when it is longer (docs/verdict.md).
                options.setWarmup(fraction: nil, seconds: try userFacing { try Units.seconds(text) })
            }
        }
        if let suppressions { options.suppressions = try userFacing { try Suppressions.load(path: suppressions) } }
        return options
    }

    func stackSymbolizer() -> StackSymbolizer { StackSymbolizer(symbolizer: sharedSymbolizer, fullStacks: fullStacks) }

    /// Reads a session directory or a snapshot file; skipped files are reported on stderr unless
    /// the caller shows them itself.
    func read(_ path: String, _ what: TimelineReadOptions = TimelineReadOptions(), reportWarnings: Bool = true) throws
        -> SessionTimelines
    {
        let session = try userFacing { try TimelineReader.read(path, options: what, adapters: [JavaScriptHeaps(), GoHeaps()]) }
        if reportWarnings { for warning in session.warnings { StandardError.write("memdrift: warning: \(warning)\n") } }
        return session
    }

    /// Reads and judges a session.
    func judge(_ path: String, reportWarnings: Bool = true) throws -> (SessionTimelines, SessionAnalysis) {
        let judge = Judge(names: stackSymbolizer(), options: try options())
        let timelines = try read(path, .liveOnly, reportWarnings: reportWarnings)
        return (timelines, judge.judge(timelines))
    }
}

/// Thresholds of `gate` and `run --gate`.
struct GateOptionGroup: ParsableArguments {
    @Option(
        name: .long,
        help: "Fail when a heap (malloc, mapped, a runtime's) grows faster than this after warm-up (e.g. 1MiB/h).",
        transform: Units.bytesPerHour)
    var maxHeapSlope: Double?

    @Option(
        name: .long, help: "Fail when a process's own RSS grows faster than this after warm-up (e.g. 10MiB/h).",
        transform: Units.bytesPerHour)
    var maxRssSlope: Double?

    @Option(
        name: .long, help: "Fail when a heap grows more than this after warm-up: a size (50MiB) or a percentage (20%).",
        transform: GateOptionGroup.growthLimit)
    var maxHeapGrowth: GrowthLimit?

    @Option(name: .long, help: "Fail when any snapshot shows more RSS than this (e.g. 2GiB).", transform: Units.bytes)
    var maxRss: UInt64?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Process verdicts that fail the gate besides leak, comma-separated: growth, inconclusive.",
            discussion:
                "leak always fails unless the list starts with none: --fail-on none (thresholds only), --fail-on none,growth."
        ),
        transform: GateOptionGroup.verdicts)
    var failOn: Set<ProcessVerdict>?

    @Option(name: .long, help: "Also write the result as JUnit XML to this file.")
    var junit: String?

    /// Whether any gate option was given (so `run` judges the run with them).
    var isGiven: Bool {
        maxHeapSlope != nil || maxRssSlope != nil || maxHeapGrowth != nil || maxRss != nil || failOn != nil || junit != nil
    }

    var thresholds: GateThresholds {
        var t = GateThresholds()
        t.maxHeapSlope = maxHeapSlope
        t.maxRSSSlope = maxRssSlope
        t.maxHeapGrowth = maxHeapGrowth
        t.maxRSS = maxRss
        t.failOn = failOn ?? [.leak]
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

    /// `growth` means leak and growth; `none,growth` only growth; `none` no verdict at all.
    static func verdicts(_ text: String) throws -> Set<ProcessVerdict> {
        var result: Set<ProcessVerdict> = [.leak]
        for (i, part) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let name = part.trimmingSpacesAndTabs()
            if name == "none" && i == 0 {
                result = []
                continue
            }
            guard let verdict = ProcessVerdict(rawValue: name), verdict != .stable else {
                throw ValidationError("invalid verdict '\(name)': expected leak, growth or inconclusive (or none first)")
            }
            result.insert(verdict)
        }
        return result
    }

    /// Applies the thresholds, prints the outcome (on stderr when `toStandardError`, as `run` keeps
    /// stdout to the program), writes JUnit if asked; returns the exit code (0 pass, 1 fail).
    func apply(to analysis: SessionAnalysis, toStandardError: Bool = false) throws -> Int32 {
        let result = Gate.evaluate(analysis, thresholds: thresholds)
        let text = GateText.render(result, session: analysis.path)
        if toStandardError { StandardError.write(text) } else { print(text, terminator: "") }
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

/// Options shared by the commands that record a session: `run` and `watch`.
struct RecordingOptionGroup: ParsableArguments {
    @Option(
        name: .long, help: "Stop after this long (e.g. 90s, 30m, 2h). Default: when the processes are gone.",
        transform: Units.seconds)
    var duration: Double?

    @Option(name: .long, help: "Time between snapshots (at least 100ms). Default: 10s.", transform: Units.seconds)
    var interval: Double = 10

    @Option(
        name: [.short, .long],
        help: "Session directory to create (must not exist or be empty). Default: ./memdrift-<command>-<time>[-N].")
    var output: String?

    @Flag(name: [.short, .long], help: "Print nothing: no status line, no summary (the session is still written).")
    var quiet = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A Go net/http/pprof heap endpoint to fetch every interval (e.g. http://127.0.0.1:6060/debug/pprof/heap).",
            discussion:
                "Its live heap (go.inuse) is judged by Go function and file:line like the native heap. It belongs to the command run started, or to the first pid watch was given. gc=1 is added to the query (a collection before each profile, so it is current) unless the URL sets gc. http only; one warning when the endpoint is down, slow or not serving pprof."
        ))
    var pprofURL: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The most the session may take on disk (e.g. 500MB, 2GiB). Default: 1GiB.",
            discussion:
                "Past it, the middle of every series is thinned: each snapshot there is folded into the next, keeping every change but half the resolution; the start, where the warm-up ends, and the most recent fifth keep every snapshot."
        ),
        transform: Units.bytes)
    var maxSessionSize: UInt64 = 1 << 30

    @Flag(
        name: .long,
        help: "Apply the gate's thresholds at the end and exit with its code (0 pass, 1 fail); implied by any gate option.")
    var gate = false

    /// Whether the recording ends with the gate: `--gate`, or any gate option (a JUnit file a CI job
    /// waits for must be written), said once.
    func gating(_ thresholds: GateOptionGroup) -> Bool {
        guard !gate && thresholds.isGiven else { return gate }
        if !quiet { StandardError.write("memdrift: gate options given: the recording is gated, exit code is the gate's\n") }
        return true
    }

    /// After the recording: the summary and verdict on stderr, then the gate's exit code when
    /// gating, else `exitCode`. A session that holds nothing is said so, and fails only a gate.
    func conclude(
        _ session: String, exitCode: Int32, gating: Bool, thresholds: GateOptionGroup, analysis: AnalysisOptionGroup
    ) throws -> Never {
        guard gating || !quiet else { throw ExitCode(exitCode) }
        let verdict: SessionAnalysis
        do {
            verdict = try analysis.judge(session, reportWarnings: false).1
        } catch {
            if gating { throw error }
            StandardError.write(
                "memdrift: session \(session): no snapshots were written (was the program static, setuid, or gone before the tracker started?)\n"
            )
            throw ExitCode(exitCode)
        }
        if !quiet { StandardError.write(RunSummaryText().render(verdict)) }
        guard gating else { throw ExitCode(exitCode) }
        throw ExitCode(try thresholds.apply(to: verdict, toStandardError: true))
    }
}
