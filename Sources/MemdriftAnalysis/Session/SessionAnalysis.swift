import MemdriftCore
import MemdriftSymbolization

/// Settings of a session analysis.
public struct AnalysisOptions: Sendable {
    /// Trend settings per call site; its warm-up also applies to the process figures.
    public var callSite = TrendOptions.callSite
    /// Trend settings for the tracked heap total (exact, so the call-site floors fit it).
    public var heap = TrendOptions.callSite
    /// Trend settings for RSS, which moves in pages and is noisier.
    public var rss = TrendOptions.process
    /// Call sites accepted by the user; they never count as suspects.
    public var suppressions = Suppressions()
    /// Most suspects kept per process.
    public var maximumSuspects = 20

    /// Default settings.
    public init() {}

    /// Sets the warm-up of every series: a fraction of the run and/or a minimum duration.
    public mutating func setWarmup(fraction: Double?, seconds: Double?) {
        for keyPath in [\AnalysisOptions.callSite, \.heap, \.rss] {
            if let fraction { self[keyPath: keyPath].warmupFraction = fraction }
            if let seconds { self[keyPath: keyPath].warmupSeconds = seconds }
        }
    }
}

/// One call site's trend over a process's run.
public struct CallSiteTrend: Sendable {
    /// The stack as the last snapshot has it.
    public var stack: CallStack
    /// Symbolized frames, leaf first, user code first.
    public var frames: [SymbolizedFrame]
    public var trend: GrowthTrend
    /// Live bytes and blocks at the end of the warm-up and at the last snapshot.
    public var bytesAtStart: UInt64
    public var bytesAtEnd: UInt64
    public var countAtStart: UInt64
    public var countAtEnd: UInt64
    /// The suppression pattern that accepted it, if any.
    public var suppressedBy: String?

    public var growthBytes: Int64 { Int64(bitPattern: bytesAtEnd &- bytesAtStart) }
    public var growthCount: Int64 { Int64(bitPattern: countAtEnd &- countAtStart) }
}

/// The analysis of one process image's series of snapshots.
public struct ProcessAnalysis: Sendable {
    public var series: SnapshotSeries
    public var command: String
    public var snapshotCount: Int
    public var durationSeconds: Double
    /// Seconds of warm-up excluded from every trend.
    public var warmupSeconds: Double
    public var isSampled: Bool
    public var heap: GrowthTrend
    public var rss: GrowthTrend
    /// Heap and RSS at the end of the warm-up and at the last snapshot; the highest RSS seen.
    public var heapStart: UInt64
    public var heapEnd: UInt64
    public var rssStart: UInt64
    public var rssEnd: UInt64
    public var rssPeak: UInt64
    /// Times (seconds since start) and values of the whole run, for charts.
    public var times: [Double]
    public var heapValues: [Double]
    public var rssValues: [Double]
    public var verdict: ProcessVerdict
    /// Call sites classified as leaks (unsuppressed), largest growth first.
    public var suspects: [CallSiteTrend]
    /// Other call sites that grew (bounded, sawtooth) or were suppressed, largest growth first.
    public var otherGrowers: [CallSiteTrend]
}

/// The analysis of a whole session.
public struct SessionAnalysis: Sendable {
    public var path: String
    public var processes: [ProcessAnalysis]

    /// The session's verdict: any leak, else any growth, else stable when any process had
    /// enough snapshots to judge, else inconclusive.
    public var verdict: ProcessVerdict {
        let verdicts = processes.map(\.verdict)
        if verdicts.contains(.leak) { return .leak }
        if verdicts.contains(.growth) { return .growth }
        if verdicts.contains(.stable) { return .stable }
        return .inconclusive
    }
}

/// Judges a session: per process and per call site, trend after warm-up and a verdict.
public struct SessionAnalyzer: Sendable {
    public let stacks: StackSymbolizer
    public let options: AnalysisOptions

    /// Creates an analyzer naming frames with `stacks`.
    public init(stacks: StackSymbolizer, options: AnalysisOptions = AnalysisOptions()) {
        self.stacks = stacks
        self.options = options
    }

    /// Reads and analyzes every series of the session at `path`.
    public func analyze(sessionPath path: String) throws(FormatError) -> SessionAnalysis {
        let session = try Session.open(path)
        guard !session.series.isEmpty else { throw .emptySession(path: path) }
        var processes: [ProcessAnalysis] = []
        for s in session.series { processes.append(try analyze(s)) }
        return SessionAnalysis(path: path, processes: processes)
    }

    /// Analyzes one series, reading its snapshots one at a time.
    public func analyze(_ series: SnapshotSeries) throws(FormatError) -> ProcessAnalysis {
        let n = series.snapshotPaths.count
        var times: [Double] = [], heap: [Double] = [], rss: [Double] = []
        var live: [UInt32: [Double]] = [:]
        var counts: [UInt32: [Double]] = [:]
        var last: Snapshot?
        var sampled = false
        for (i, path) in series.snapshotPaths.enumerated() {
            let snapshot = try SnapshotReader.read(path: path)
            times.append(snapshot.elapsedSeconds)
            heap.append(Double(snapshot.figures.heapLiveBytes))
            rss.append(Double(snapshot.figures.rss))
            sampled = sampled || snapshot.header.isSampled
            for stack in snapshot.stacks where stack.liveBytes > 0 || live[stack.id] != nil {
                live[stack.id, default: [Double](repeating: 0, count: n)][i] = Double(stack.liveBytes)
                counts[stack.id, default: [Double](repeating: 0, count: n)][i] = Double(stack.liveCount)
            }
            last = snapshot
        }
        guard let last else { throw .emptySession(path: series.name) }

        let heapTrend = TrendAnalyzer.classify(Series(times: times, values: heap), options: options.heap)
        let rssTrend = TrendAnalyzer.classify(Series(times: times, values: rss), options: options.rss)
        let start = warmupIndex(times)
        let stacksByID = Dictionary(last.stacks.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

        var suspects: [CallSiteTrend] = [], others: [CallSiteTrend] = []
        for (id, values) in live {
            let window = values[start...]
            guard let low = window.min(), let high = window.max(), let stack = stacksByID[id] else { continue }
            // Most call sites never move: skip the statistics when no change could be material.
            guard high - low >= options.callSite.minimumAbsoluteGrowth else { continue }
            let trend = TrendAnalyzer.classify(Series(times: times, values: values), options: options.callSite)
            guard trend.classification != .stable, !trend.isInsufficientData else { continue }
            let c = counts[id] ?? []
            var site = CallSiteTrend(
                stack: stack, frames: stacks.frames(of: stack, in: last), trend: trend,
                bytesAtStart: UInt64(values[start]), bytesAtEnd: UInt64(values[n - 1]),
                countAtStart: UInt64(c.isEmpty ? 0 : c[start]), countAtEnd: UInt64(c.isEmpty ? 0 : c[n - 1]))
            site.suppressedBy = options.suppressions.match(site.frames)
            if trend.classification == .leak && site.suppressedBy == nil { suspects.append(site) } else { others.append(site) }
        }
        suspects.sort { ($0.growthBytes, $1.stack.id) > ($1.growthBytes, $0.stack.id) }
        others.sort { ($0.growthBytes, $1.stack.id) > ($1.growthBytes, $0.stack.id) }

        // The suspects explain the heap when they account for at least half of its growth or of its
        // slope: a cache that filled early in the window adds growth but no slope.
        let heapGrowth = heap[n - 1] - heap[start]
        let suspectGrowth = suspects.reduce(0.0) { $0 + Double($1.growthBytes) }
        let suspectSlope = suspects.reduce(0.0) { $0 + $1.trend.slopePerSecond }
        let explained =
            !suspects.isEmpty
            && (suspectGrowth >= 0.5 * max(heapGrowth, 0) || suspectSlope >= 0.5 * max(heapTrend.slopePerSecond, 0))
        let verdict = TrendAnalyzer.processVerdict(heap: heapTrend, rss: rssTrend, suspectsExplainGrowth: explained)

        return ProcessAnalysis(
            series: series, command: last.commandLine.isEmpty ? last.executable : last.commandLine.joined(separator: " "),
            snapshotCount: n, durationSeconds: (times.last ?? 0) - (times.first ?? 0), warmupSeconds: times[start] - times[0],
            isSampled: sampled, heap: heapTrend, rss: rssTrend,
            heapStart: UInt64(heap[start]), heapEnd: UInt64(heap[n - 1]), rssStart: UInt64(rss[start]),
            rssEnd: UInt64(rss[n - 1]),
            rssPeak: UInt64(rss.max() ?? 0), times: times, heapValues: heap, rssValues: rss, verdict: verdict,
            suspects: Array(suspects.prefix(options.maximumSuspects)), otherGrowers: Array(others.prefix(options.maximumSuspects))
        )
    }

    private func warmupIndex(_ times: [Double]) -> Int { options.firstIndexAfterWarmup(times) }
}

extension AnalysisOptions {
    /// The index of the first sample after the warm-up, as the trend analyzer counts it.
    public func firstIndexAfterWarmup(_ times: [Double]) -> Int {
        min(TrendAnalyzer.warmupEndIndex(times: times, options: callSite), max(times.count - 1, 0))
    }
}
