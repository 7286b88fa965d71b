import MemdriftCore
import MemdriftSymbolization

/// Settings of a session analysis.
public struct AnalysisOptions: Sendable {
    /// Trend settings per call site; its warm-up applies to every series of a process.
    public var callSite = TrendOptions.callSite
    /// Trend settings for attributed totals (the tracked heap, mapped memory, a runtime's heap).
    public var heap = TrendOptions.callSite
    /// Trend settings for RSS, which moves in pages and is noisier.
    public var rss = TrendOptions.process
    /// Call sites accepted by the user; they never count as suspects.
    public var suppressions = Suppressions()
    /// Most suspects kept per process.
    public var maximumSuspects = 20

    /// Default settings.
    public init() {}

    /// Sets the warm-up of every series: a fraction of the run and a minimum duration.
    public mutating func setWarmup(fraction: Double?, seconds: Double?) {
        for keyPath in [\AnalysisOptions.callSite, \.heap, \.rss] {
            if let fraction { self[keyPath: keyPath].warmupFraction = fraction }
            if let seconds { self[keyPath: keyPath].warmupSeconds = seconds }
        }
    }

    /// The time (seconds, on the timeline's clock) at which the warm-up ends for samples at `times`.
    public func warmupEnd(_ times: [Double]) -> Double {
        guard let first = times.first, let last = times.last else { return 0 }
        return first + max(callSite.warmupFraction * (last - first), callSite.warmupSeconds)
    }

    /// The trend settings for a series of `metric`.
    func trendOptions(for metric: MetricName) -> TrendOptions {
        metric.rawValue.hasPrefix("rss") ? rss : heap
    }
}

/// One metric of a process over its judged samples.
public struct MetricAnalysis: Sendable {
    public var metric: MetricName
    public var trend: GrowthTrend
    /// Times and values of every judged sample that measured it, warm-up included (for charts).
    public var times: [Double]
    public var values: [Double]
    /// The value at the end of the warm-up and at the last judged sample; the highest judged value.
    public var start: Double
    public var end: Double
    public var peak: Double
    /// The value in the final (teardown) sample, when the process exited or exec'd: shown, never judged.
    public var atTeardown: Double?
    /// The trend with what is not the process's own growth taken out: accepted (suppressed) call
    /// sites, and for RSS shared memory. Nil when nothing was taken out.
    public var ownTrend: GrowthTrend?

    /// Growth after the warm-up with accepted call sites taken out (what `--max-heap-growth` limits).
    public var ownGrowth: Double
    /// Whether call sites hold its bytes (the heap, mapped memory, a runtime's heap), unlike RSS.
    public var isAttributed: Bool

    /// The trend verdicts and gates use: `ownTrend` when set, else `trend`.
    public var judgedTrend: GrowthTrend { ownTrend ?? trend }

    /// The fitted line's value at `time`.
    public func fitted(at time: Double) -> Double { trend.intercept + trend.slopePerSecond * time }
}

/// One call site of one attributed metric whose live bytes moved after the warm-up.
public struct SiteAnalysis: Sendable {
    /// The attributed metric it belongs to (`heap.malloc`, `heap.mapped`, `go.inuse`, ...).
    public var metric: MetricName
    public var site: CallSite
    /// Named frames, leaf first, user code first.
    public var frames: [SymbolizedFrame]
    public var trend: GrowthTrend
    /// Live bytes and blocks at the end of the warm-up and at the last judged sample.
    public var bytesAtStart: Int64
    public var bytesAtEnd: Int64
    public var countAtStart: Int64
    public var countAtEnd: Int64
    /// The suppression pattern that accepted it, if any.
    public var suppressedBy: String?

    /// Bytes gained after the warm-up; for a leak never negative (the fitted growth when the ends disagree).
    public var growthBytes: Int64 {
        let change = bytesAtEnd - bytesAtStart
        guard trend.classification == .leak, change <= 0 else { return change }
        return Int64(max(0, trend.fittedGrowth))
    }
    /// Blocks gained after the warm-up; for a leak never negative.
    public var growthCount: Int64 {
        let change = countAtEnd - countAtStart
        return trend.classification == .leak ? max(change, 0) : change
    }
}

/// How much of a process's RSS growth its attributed metrics explain.
public struct GrowthExplanation: Sendable {
    /// Growth of the process's own RSS (shared memory excluded) after the warm-up.
    public var ownRSSGrowth: Double
    /// Growth of shared memory pages (rss.shmem) in the same window.
    public var sharedGrowth: Double
    /// Each attributed metric's growth in the same window.
    public var parts: [(metric: MetricName, growth: Double)]

    /// The explained fraction of the own RSS growth, nil when RSS did not grow materially.
    ///
    /// A runtime's heap (`js.heap`, `go.inuse`) lives in pages the runtime mapped itself, which
    /// `heap.mapped` counts too: the two are not added up, the larger stands for both.
    public var fraction: Double? {
        guard ownRSSGrowth >= 1024 * 1024 else { return nil }
        var separate = 0.0, runtimeHeaps = 0.0, mapped = 0.0
        for (metric, growth) in parts {
            switch metric {
            case .heapMapped: mapped += growth
            case .jsHeap, .goInuse: runtimeHeaps += growth
            default: separate += growth
            }
        }
        return max(0, separate + max(mapped, runtimeHeaps)) / ownRSSGrowth
    }
}

/// The judgement of one process image.
public struct ProcessAnalysis: Sendable {
    public var pid: Int32
    public var image: Int
    public var parentPID: Int32
    /// The session's name for it (`pid-4217`).
    public var name: String
    public var command: String
    public var sources: [TimelineSource]
    /// Every sample, teardown included; and the samples judged.
    public var sampleCount: Int
    public var judgedCount: Int
    /// Periodic samples taken while the process freed everything on its way out (judged as final).
    public var teardownCount: Int
    /// Seconds from the first to the last judged sample.
    public var durationSeconds: Double
    /// Seconds of warm-up excluded from every trend, counted from the first judged sample.
    public var warmupSeconds: Double
    /// Timeline time of the first judged sample and of the end of the warm-up.
    public var firstTime: Double
    public var warmupEnd: Double
    /// Timeline indices of the first sample after the warm-up and of the last judged sample
    /// (the window every growth figure spans); nil when nothing was judged.
    public var window: ClosedRange<Int>?
    /// Why the last sample was taken (an exit, a request, ...).
    public var lastReason: SampleReason?
    public var isSampled: Bool
    public var verdict: ProcessVerdict
    /// One line saying why.
    public var reason: String
    /// Every metric measured, by name.
    public var metrics: [MetricName: MetricAnalysis]
    /// Unsuppressed call sites classified as leaks, of any attributed metric, largest growth first.
    public var suspects: [SiteAnalysis]
    /// Other call sites that grew (bounded, sawtooth) or were suppressed, largest growth first.
    public var otherGrowth: [SiteAnalysis]
    public var explanation: GrowthExplanation?

    /// The tracked malloc heap.
    public var heap: MetricAnalysis? { metrics[.heapMalloc] }
    /// The resident set size.
    public var rss: MetricAnalysis? { metrics[.rss] }
    /// Too few judged samples to say anything: a short-lived helper, or a run too short.
    public var isInconclusive: Bool { verdict == .inconclusive }
}

/// The judgement of a whole session.
public struct SessionAnalysis: Sendable {
    public var path: String
    /// Processes in report order: leaking first, then growing, then by how long they were judged.
    public var processes: [ProcessAnalysis]
    /// Files that were skipped, one line each.
    public var warnings: [String]

    /// The session's verdict: any leak, else any growth, else stable when any process had
    /// enough samples to judge, else inconclusive.
    public var verdict: ProcessVerdict {
        let verdicts = processes.map(\.verdict)
        if verdicts.contains(.leak) { return .leak }
        if verdicts.contains(.growth) { return .growth }
        if verdicts.contains(.stable) { return .stable }
        return .inconclusive
    }
}

/// Names the frames of a call site for the judge: symbolization happens before judging.
public protocol CallSiteNaming: Sendable {
    /// Leaf first, user code first.
    func frames(of site: CallSite) -> [SymbolizedFrame]
}

extension StackSymbolizer: CallSiteNaming {}

/// Judges timelines: per process and per call site, trends after the warm-up and a verdict.
///
/// A pure function of the timelines, the options and the names of call sites: no file is read
/// here, and renderers show what it returns without computing figures of their own.
public struct Judge: Sendable {
    public let names: any CallSiteNaming
    public let options: AnalysisOptions

    /// Creates a judge naming frames with `names`.
    public init(names: any CallSiteNaming, options: AnalysisOptions = AnalysisOptions()) {
        self.names = names
        self.options = options
    }

    /// Judges every process of a session.
    public func judge(_ session: SessionTimelines) -> SessionAnalysis {
        let order: [ProcessVerdict: Int] = [.leak: 0, .growth: 1, .stable: 2, .inconclusive: 3]
        let processes = session.processes.map(judge).enumerated().sorted { a, b in
            let (x, y) = (a.element, b.element)
            if x.verdict != y.verdict { return order[x.verdict, default: 4] < order[y.verdict, default: 4] }
            if x.durationSeconds != y.durationSeconds { return x.durationSeconds > y.durationSeconds }
            return a.offset < b.offset
        }.map(\.element)
        return SessionAnalysis(path: session.path, processes: processes, warnings: session.warnings)
    }

    /// Judges one process.
    public func judge(_ t: ProcessTimeline) -> ProcessAnalysis {
        let judged = t.samples.indices.filter { !t.samples[$0].isFinal }
        let times = judged.map { t.samples[$0].time }
        let warmupEnd = options.warmupEnd(times)
        let startPosition = min(times.firstIndex { $0 >= warmupEnd } ?? max(times.count - 1, 0), max(times.count - 1, 0))
        let window = judged.isEmpty ? nil : judged[startPosition]...judged[judged.count - 1]
        let firstTime = times.first ?? 0
        var trendOptions = options
        trendOptions.setWarmup(fraction: 0, seconds: warmupEnd - firstTime)

        var metrics: [MetricName: MetricAnalysis] = [:]
        for metric in t.metricNames {
            let indices = judged.filter { t.samples[$0].metrics[metric] != nil }
            let teardown = t.samples.last { $0.isFinal }?.metrics[metric]
            guard !indices.isEmpty || teardown != nil else { continue }
            let values = indices.map { t.samples[$0].metrics[metric] ?? 0 }
            metrics[metric] = analyze(
                metric, times: indices.map { t.samples[$0].time }, values: values, warmupEnd: warmupEnd,
                options: trendOptions.trendOptions(for: metric), teardown: teardown, isAttributed: t.attributed[metric] != nil)
        }

        var suspects: [SiteAnalysis] = [], others: [SiteAnalysis] = []
        for (metric, table) in t.attributed.sorted(by: { $0.key < $1.key }) {
            let indices = judged.filter { t.samples[$0].metrics[metric] != nil }
            for site in sites(of: table, metric: metric, in: t, indices: indices, warmupEnd: warmupEnd, options: trendOptions) {
                if site.trend.classification == .leak && site.suppressedBy == nil {
                    suspects.append(site)
                } else {
                    others.append(site)
                }
            }
        }
        // A runtime's heap (JavaScript, Go) lives in pages the runtime mapped itself: its objects,
        // named by the runtime's own call sites, come before the mappings that hold them.
        let runtimeHeap = t.attributed.keys.contains { $0 == .jsHeap || $0 == .goInuse }
        let rank: (SiteAnalysis) -> Int = { runtimeHeap && $0.metric == .heapMapped ? 1 : 0 }
        let byGrowth: (SiteAnalysis, SiteAnalysis) -> Bool = { a, b in
            if rank(a) != rank(b) { return rank(a) < rank(b) }
            return a.growthBytes != b.growthBytes ? a.growthBytes > b.growthBytes : a.metric < b.metric
        }
        suspects.sort(by: byGrowth)
        others.sort(by: byGrowth)

        let accepted = others.filter { $0.suppressedBy != nil }
        for metric in Array(metrics.keys) where t.attributed[metric] != nil {
            guard var analysis = metrics[metric] else { continue }
            analysis.ownTrend = withoutAccepted(metric, analysis, t, accepted: accepted, options: trendOptions)
            analysis.ownGrowth -= accepted.filter { $0.metric == metric }.reduce(0) { $0 + Double($1.growthBytes) }
            metrics[metric] = analysis
        }
        if var rss = metrics[.rss] {
            rss.ownTrend = ownRSS(t, accepted: accepted, judged: judged, options: trendOptions)
            metrics[.rss] = rss
        }
        let (verdict, reason) = decide(
            t, metrics: metrics, suspects: suspects, accepted: accepted.count, judged: judged, warmupEnd: warmupEnd)
        return ProcessAnalysis(
            pid: t.pid, image: t.image, parentPID: t.parentPID, name: t.name, command: t.command, sources: t.sources,
            sampleCount: t.samples.count, judgedCount: judged.count,
            teardownCount: t.samples.filter { $0.isFinal && $0.reason != .exit && $0.reason != .exec }.count,
            durationSeconds: (times.last ?? 0) - firstTime,
            warmupSeconds: times.isEmpty ? 0 : times[startPosition] - firstTime, firstTime: firstTime,
            warmupEnd: times.isEmpty ? 0 : times[startPosition], window: window, lastReason: t.samples.last?.reason,
            isSampled: t.isSampled, verdict: verdict, reason: reason, metrics: metrics,
            suspects: Array(suspects.prefix(options.maximumSuspects)), otherGrowth: Array(others.prefix(options.maximumSuspects)),
            explanation: explain(t, metrics: metrics))
    }

    private func analyze(
        _ metric: MetricName, times: [Double], values: [Double], warmupEnd: Double, options: TrendOptions, teardown: Double?,
        isAttributed: Bool
    ) -> MetricAnalysis {
        let trend = TrendAnalyzer.classify(Series(times: times, values: values), options: options)
        let start = times.firstIndex { $0 >= warmupEnd } ?? max(values.count - 1, 0)
        return MetricAnalysis(
            metric: metric, trend: trend, times: times, values: values, start: values.isEmpty ? 0 : values[start],
            end: values.last ?? 0, peak: values.max() ?? 0, atTeardown: teardown,
            ownGrowth: values.isEmpty ? 0 : values[values.count - 1] - values[start], isAttributed: isAttributed)
    }

    /// The call sites of one attributed metric whose live bytes moved materially after the warm-up.
    private func sites(
        of table: AttributedMetric, metric: MetricName, in t: ProcessTimeline, indices: [Int], warmupEnd: Double,
        options: AnalysisOptions
    ) -> [SiteAnalysis] {
        guard let last = indices.last else { return [] }
        let times = indices.map { t.samples[$0].time }
        let startPosition = times.firstIndex { $0 >= warmupEnd } ?? indices.count - 1
        let first = indices[startPosition]
        var result: [SiteAnalysis] = []
        for (position, history) in table.histories.enumerated() {
            // Most call sites never move: skip the statistics when no change could be material.
            guard history.range(from: first, through: last) >= options.callSite.minimumAbsoluteGrowth else { continue }
            let values = history.liveBytes(at: indices)
            let trend = TrendAnalyzer.classify(Series(times: times, values: values), options: options.callSite)
            guard trend.classification != .stable, !trend.isInsufficientData else { continue }
            let site = table.sites[position]
            let frames = names.frames(of: site)
            let atStart = history.counters(at: first), atEnd = history.counters(at: last)
            result.append(
                SiteAnalysis(
                    metric: metric, site: site, frames: frames, trend: trend, bytesAtStart: atStart.liveBytes,
                    bytesAtEnd: atEnd.liveBytes, countAtStart: atStart.liveCount, countAtEnd: atEnd.liveCount,
                    suppressedBy: options.suppressions.match(frames)))
        }
        return result
    }

    /// The process verdict: a leak when any unsuppressed call site leaks, whatever shape the totals
    /// have; growth when a total grows beyond what was accepted and no call site explains it.
    private func decide(
        _ t: ProcessTimeline, metrics: [MetricName: MetricAnalysis], suspects: [SiteAnalysis], accepted: Int,
        judged: [Int], warmupEnd: Double
    ) -> (ProcessVerdict, String) {
        if let top = suspects.first {
            let what = top.frames.first?.displayName ?? "[no stack]"
            let count = suspects.count == 1 ? "1 call site leaks" : "\(suspects.count) call sites leak"
            return (.leak, "\(count); first \(what), \(Units.formatDelta(Int64(top.trend.slopePerHour)))/h")
        }
        var judgedAny = false
        for (metric, analysis) in metrics.sorted(by: { $0.key < $1.key }) where t.attributed[metric] != nil {
            let trend = analysis.judgedTrend
            judgedAny = judgedAny || !trend.isInsufficientData
            if trend.classification == .leak && !trend.isInsufficientData {
                let rate = Units.formatDelta(Int64(trend.sustainedSlopePerHour))
                return (.growth, "\(metric.title) grows \(rate)/h through many call sites, none material alone")
            }
        }
        if let rss = metrics[.rss] {
            let own = rss.judgedTrend
            judgedAny = judgedAny || !own.isInsufficientData
            if own.classification == .leak && !own.isInsufficientData {
                return (
                    .growth, "rss grows \(Units.formatDelta(Int64(own.sustainedSlopePerHour)))/h and no call site explains it"
                )
            }
            if rss.trend.classification == .leak && !rss.trend.isInsufficientData && metrics[.rssShmem] != nil
                && (metrics[.rssShmem]?.trend.classification == .leak)
            {
                return (.stable, "rss grows only in shared memory (rss.shmem): pages of a shared segment being touched")
            }
        }
        guard judgedAny else {
            let needed = options.callSite.minimumSamples
            let after = judged.filter { t.samples[$0].time >= warmupEnd }.count
            let snapshots = after == 1 ? "1 snapshot" : "\(after) snapshots"
            return (.inconclusive, "\(snapshots) after the warm-up, \(needed) needed: run longer or lower --interval")
        }
        return (.stable, accepted > 0 ? "no sustained growth besides accepted call sites" : "no sustained growth")
    }

    /// The trend of an attributed total minus the live bytes of accepted call sites.
    private func withoutAccepted(
        _ metric: MetricName, _ analysis: MetricAnalysis, _ t: ProcessTimeline, accepted: [SiteAnalysis],
        options: AnalysisOptions
    ) -> GrowthTrend? {
        let mine = accepted.filter { $0.metric == metric }
        guard !mine.isEmpty, let table = t.attributed[metric] else { return nil }
        let indices = t.samples.indices.filter { !t.samples[$0].isFinal && t.samples[$0].metrics[metric] != nil }
        var values = analysis.values
        for site in mine {
            guard let position = table.position(of: site.site) else { continue }
            for (i, v) in table.histories[position].liveBytes(at: indices).enumerated() where i < values.count { values[i] -= v }
        }
        return TrendAnalyzer.classify(Series(times: analysis.times, values: values), options: options.trendOptions(for: metric))
    }

    /// The trend of the process's own RSS: shared memory and accepted call sites taken out.
    private func ownRSS(
        _ t: ProcessTimeline, accepted: [SiteAnalysis], judged: [Int], options: AnalysisOptions
    ) -> GrowthTrend? {
        let indices = judged.filter { t.samples[$0].metrics[.rss] != nil }
        let shared = indices.contains { (t.samples[$0].metrics[.rssShmem] ?? 0) > 0 }
        guard shared || !accepted.isEmpty else { return nil }
        var values = indices.map { i in
            let s = t.samples[i].metrics
            return (s[.rss] ?? 0) - (s[.rssShmem] ?? 0)
        }
        for site in accepted {
            guard let table = t.attributed[site.metric], let position = table.position(of: site.site) else { continue }
            for (i, v) in table.histories[position].liveBytes(at: indices).enumerated() { values[i] -= v }
        }
        let times = indices.map { t.samples[$0].time }
        return TrendAnalyzer.classify(Series(times: times, values: values), options: options.rss)
    }

    /// What the attributed metrics explain of the own RSS growth after the warm-up.
    private func explain(_ t: ProcessTimeline, metrics: [MetricName: MetricAnalysis]) -> GrowthExplanation? {
        guard let rss = metrics[.rss], !rss.values.isEmpty else { return nil }
        let sharedGrowth = metrics[.rssShmem].map { $0.end - $0.start } ?? 0
        let parts = metrics.keys.filter { t.attributed[$0] != nil }.sorted().compactMap { metric -> (MetricName, Double)? in
            metrics[metric].map { (metric, $0.end - $0.start) }
        }
        return GrowthExplanation(ownRSSGrowth: rss.end - rss.start - sharedGrowth, sharedGrowth: sharedGrowth, parts: parts)
    }
}
