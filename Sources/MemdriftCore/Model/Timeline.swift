/// The name of a measured quantity: `rss`, `rss.anon`, `heap.malloc`, `go.inuse`, ...
public struct MetricName: RawRepresentable, Sendable, Hashable, Comparable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public let rawValue: String

    /// Creates a metric name.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Creates a metric name from a literal.
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }

    public static func < (a: MetricName, b: MetricName) -> Bool { a.rawValue < b.rawValue }

    /// Resident set size (VmRSS) and its parts.
    public static let rss: MetricName = "rss"
    public static let rssAnon: MetricName = "rss.anon"
    public static let rssFile: MetricName = "rss.file"
    public static let rssShmem: MetricName = "rss.shmem"
    /// Live bytes the tracker saw allocated through the malloc family.
    public static let heapMalloc: MetricName = "heap.malloc"
    /// Live bytes of mappings the program made itself (mmap, mremap), seen by the tracker.
    public static let heapMapped: MetricName = "heap.mapped"
    /// Go's live heap (inuse_space) from its own heap profile.
    public static let goInuse: MetricName = "go.inuse"
    /// V8's live JavaScript heap from its sampling heap profiler.
    public static let jsHeap: MetricName = "js.heap"

    /// What a call site's count of this metric counts: `block`, `mapping`, `object`.
    public var countNoun: String {
        switch self {
        case .heapMapped: "mapping"
        case .goInuse, .jsHeap: "object"
        default: "block"
        }
    }

    /// How reports name the metric.
    public var title: String {
        switch self {
        case .rss: "rss"
        case .rssAnon: "rss anon"
        case .rssFile: "rss file"
        case .rssShmem: "rss shmem"
        case .heapMalloc: "heap"
        case .heapMapped: "mapped"
        case .goInuse: "go heap"
        case .jsHeap: "js heap"
        default: rawValue
        }
    }
}

/// What one call site holds at one moment, for one attributed metric.
public struct SiteCounters: Sendable, Hashable {
    /// Live bytes and blocks (objects, mappings) at that moment.
    public var liveBytes: Int64
    public var liveCount: Int64
    /// Bytes and blocks allocated since the source started counting; 0 when it does not count them.
    public var allocatedBytes: Int64
    public var allocatedCount: Int64

    /// Creates counters.
    public init(liveBytes: Int64 = 0, liveCount: Int64 = 0, allocatedBytes: Int64 = 0, allocatedCount: Int64 = 0) {
        self.liveBytes = liveBytes
        self.liveCount = liveCount
        self.allocatedBytes = allocatedBytes
        self.allocatedCount = allocatedCount
    }

    /// All zero: nothing live, nothing allocated.
    public static let zero = SiteCounters()

    /// The counters of two stacks of one site together.
    public static func + (a: SiteCounters, b: SiteCounters) -> SiteCounters {
        SiteCounters(
            liveBytes: a.liveBytes &+ b.liveBytes, liveCount: a.liveCount &+ b.liveCount,
            allocatedBytes: a.allocatedBytes &+ b.allocatedBytes, allocatedCount: a.allocatedCount &+ b.allocatedCount)
    }
}

/// One call site's counters over a timeline, stored only where they changed.
///
/// A value holds from its sample index until the next entry; before the first entry the site held nothing.
public struct SiteHistory: Sendable {
    /// A change: the counters in force from `sample` (an index into `ProcessTimeline.samples`) on.
    private struct Entry: Sendable {
        var sample: Int32
        var counters: SiteCounters
    }

    /// The changes, in ascending sample order: one buffer, so recording touches one allocation.
    private var entries: [Entry] = []
    /// The last entry's values, kept beside the table of histories: a reader records thousands of
    /// sites per sample, and comparing against these costs no trip to each history's buffer.
    private var latest = SiteCounters.zero
    private var latestSample: Int32 = -1

    /// An empty history.
    public init() {}

    /// Records the counters at `sample`; a repeat of the current value is not stored.
    ///
    /// Samples must be recorded in ascending order.
    public mutating func record(_ value: SiteCounters, at sample: Int) {
        if value == latest { return }
        latest = value
        if Int(latestSample) == sample {
            entries[entries.count - 1].counters = value
        } else {
            latestSample = Int32(sample)
            entries.append(Entry(sample: Int32(sample), counters: value))
        }
    }

    /// The counters in force at `sample`.
    public func counters(at sample: Int) -> SiteCounters {
        // The last entry at or before `sample` (binary search).
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Int(entries[mid].sample) <= sample { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? .zero : entries[lo - 1].counters
    }

    /// Live bytes at each of `samples` (ascending sample indices).
    public func liveBytes(at samples: [Int]) -> [Double] {
        var out = [Double](repeating: 0, count: samples.count)
        var entry = -1
        for (i, sample) in samples.enumerated() {
            while entry + 1 < entries.count, Int(entries[entry + 1].sample) <= sample { entry += 1 }
            if entry >= 0 { out[i] = Double(entries[entry].counters.liveBytes) }
        }
        return out
    }

    /// The spread (max minus min) of live bytes over samples `first...last`.
    public func range(from first: Int, through last: Int) -> Double {
        let start = counters(at: first).liveBytes
        var low = start, high = start
        for entry in entries where Int(entry.sample) > first && Int(entry.sample) <= last {
            low = min(low, entry.counters.liveBytes)
            high = max(high, entry.counters.liveBytes)
        }
        return Double(high - low)
    }

    /// How many times the counters changed.
    public var changes: Int { entries.count }

    /// Renumbers the samples after others were merged in: old index `i` becomes `newIndex[i]`.
    mutating func renumber(_ newIndex: [Int]) {
        for i in entries.indices { entries[i].sample = Int32(newIndex[Int(entries[i].sample)]) }
        latestSample = entries.last?.sample ?? -1
    }
}

/// Why a sample was taken.
public enum SampleReason: String, Sendable, Hashable, Codable {
    /// The periodic interval.
    case interval
    /// Somebody asked (`memdrift snapshot`, the trigger file, the end of `--duration`).
    case request
    /// The process was exiting.
    case exit
    /// The process image was being replaced by exec.
    case exec
    /// The program asked through `memdrift_snapshot_now()`.
    case api
    /// The first sample of a process image.
    case start
    /// A reason a newer source wrote.
    case other
}

/// One moment of a process: named metrics, and (for attributed metrics) the call-site counters
/// kept in the timeline's `SiteHistory` tables under the same index.
public struct Sample: Sendable {
    /// Seconds since the timeline's start.
    public var time: Double
    /// When it was taken, ns since the Unix epoch.
    public var wallClockNanos: UInt64
    public var reason: SampleReason
    /// Taken while the process exited or exec'd: shown, never judged (teardown frees what it likes).
    public var isFinal: Bool
    /// The values measured at this moment; a metric a source did not measure here is absent.
    public var metrics: [MetricName: Double]
    /// Where it came from, for messages and for commands that take one snapshot (`diff A B`).
    public var origin: SampleOrigin

    /// Creates a sample.
    public init(
        time: Double, wallClockNanos: UInt64, reason: SampleReason, isFinal: Bool, metrics: [MetricName: Double],
        origin: SampleOrigin
    ) {
        self.time = time
        self.wallClockNanos = wallClockNanos
        self.reason = reason
        self.isFinal = isFinal
        self.metrics = metrics
        self.origin = origin
    }
}

/// The file and sequence number a sample was read from.
public struct SampleOrigin: Sendable, Hashable {
    public var path: String
    /// The source's own numbering (a snapshot's sequence number), 0 when it has none.
    public var sequence: UInt64

    /// Creates an origin.
    public init(path: String, sequence: UInt64) {
        self.path = path
        self.sequence = sequence
    }
}

/// A metric whose bytes are attributed to call sites: each site's counters over the samples.
public struct AttributedMetric: Sendable {
    /// The call sites, indexed by the position their history has in `histories`.
    public private(set) var sites: [CallSite] = []
    public private(set) var histories: [SiteHistory] = []
    private var indexOfSite: [CallSite: Int] = [:]
    /// Mean bytes between samples when the source sampled allocations (figures are estimates); 0 when exact.
    public var sampleRate: UInt64 = 0

    /// An empty table.
    public init() {}

    /// The index of `site`, adding it when new.
    public mutating func index(of site: CallSite) -> Int {
        if let i = indexOfSite[site] { return i }
        sites.append(site)
        histories.append(SiteHistory())
        indexOfSite[site] = sites.count - 1
        return sites.count - 1
    }

    /// Records `counters` for the site at `siteIndex` at `sample`.
    public mutating func record(_ counters: SiteCounters, site siteIndex: Int, at sample: Int) {
        histories[siteIndex].record(counters, at: sample)
    }

    /// Renumbers every history's samples (see `SiteHistory.renumber`).
    mutating func renumber(_ newIndex: [Int]) {
        for i in histories.indices { histories[i].renumber(newIndex) }
    }

    /// The position of `site`, if it ever appeared.
    public func position(of site: CallSite) -> Int? { indexOfSite[site] }

    /// Every site's counters at `sample`, for sites that hold or held anything by then.
    public func counters(at sample: Int) -> [(site: CallSite, counters: SiteCounters)] {
        var out: [(CallSite, SiteCounters)] = []
        for (i, h) in histories.enumerated() {
            let c = h.counters(at: sample)
            if c != .zero { out.append((sites[i], c)) }
        }
        return out
    }
}

/// Where a timeline's data came from.
public struct TimelineSource: Sendable, Hashable, Codable {
    /// `tracker` (the preloaded tracker), `proc` (/proc, read from outside), `go` (a pprof URL), `js` (V8).
    public var kind: String
    /// What the source measured, as reports name it, e.g. "tracker heap".
    public var title: String

    /// Creates a source.
    public init(kind: String, title: String) {
        self.kind = kind
        self.title = title
    }
}

/// Everything known about one process image over a session: its samples in time order and the
/// call-site counters of its attributed metrics.
public struct ProcessTimeline: Sendable {
    public var pid: Int32
    /// 1 for the first image of the pid, counting up across exec.
    public var image: Int
    public var parentPID: Int32
    /// The name the session stores it under (`pid-4217`, `pid-4217.2`).
    public var name: String
    public var executable: String
    /// The command line, one element per argument.
    public var commandLine: [String]
    /// When the process image started (or was first seen), ns since the Unix epoch.
    public var startWallClockNanos: UInt64
    /// The same moment on CLOCK_MONOTONIC, which every source stamps its samples with: a sample's
    /// `time` is seconds since it.
    public var startMonotonicNanos: UInt64 = 0
    /// Every source that contributed, in the order they were read.
    public var sources: [TimelineSource] = []
    /// Samples in time order.
    public var samples: [Sample] = []
    /// Per-call-site counters of the metrics that can be attributed (`heap.malloc`, `heap.mapped`, ...).
    public var attributed: [MetricName: AttributedMetric] = [:]

    /// Creates an empty timeline.
    public init(
        pid: Int32, image: Int, parentPID: Int32, name: String, executable: String, commandLine: [String],
        startWallClockNanos: UInt64
    ) {
        self.pid = pid
        self.image = image
        self.parentPID = parentPID
        self.name = name
        self.executable = executable
        self.commandLine = commandLine
        self.startWallClockNanos = startWallClockNanos
    }

    /// The command line as one string (the executable when no command line was recorded).
    ///
    /// Programs that set a process title (postgres, nginx) pad it with spaces or NULs: the padding
    /// goes. Line breaks and other control characters are shown escaped, so a title stays one line.
    public var command: String {
        var args = commandLine
        while let last = args.last, last.allSatisfy({ $0 == " " }) { args.removeLast() }
        let joined = args.isEmpty ? executable : args.joined(separator: " ")
        var out = ""
        for scalar in joined.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "\\x" + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        while out.hasSuffix(" ") { out.removeLast() }
        return out
    }

    /// The indices of the samples that measured `metric`.
    public func sampleIndices(measuring metric: MetricName) -> [Int] {
        samples.indices.filter { samples[$0].metrics[metric] != nil }
    }

    /// Every metric measured in at least one sample, sorted.
    public var metricNames: [MetricName] {
        var names: Set<MetricName> = []
        for s in samples { names.formUnion(s.metrics.keys) }
        return names.sorted()
    }

    /// Whether any attributed figure is a sampled estimate.
    public var isSampled: Bool { attributed.values.contains { $0.sampleRate != 0 } }
}

/// A sample of a process timeline: what `diff` and the exporters compare.
public struct SampleRef: Sendable {
    public var timeline: ProcessTimeline
    public var index: Int

    /// Refers to sample `index` of `timeline`.
    public init(_ timeline: ProcessTimeline, _ index: Int) {
        self.timeline = timeline
        self.index = index
    }

    /// The sample itself.
    public var sample: Sample { timeline.samples[index] }

    /// Every call site holding or having held something at this sample, per attributed metric.
    public func sites(_ metric: MetricName) -> [(site: CallSite, counters: SiteCounters)] {
        timeline.attributed[metric]?.counters(at: index) ?? []
    }
}

/// A sample of another source (a runtime's heap profile) before it joins a process's timeline.
public struct SourceSample: Sendable {
    /// CLOCK_MONOTONIC when it was taken.
    public var monotonicNanos: UInt64
    public var wallClockNanos: UInt64
    public var reason: SampleReason
    public var isFinal: Bool
    public var metrics: [MetricName: Double]
    public var origin: SampleOrigin
    /// Every call site holding something, per attributed metric; a site not listed holds nothing.
    public var sites: [MetricName: [(site: CallSite, counters: SiteCounters)]]

    /// Creates a sample.
    public init(
        monotonicNanos: UInt64, wallClockNanos: UInt64, reason: SampleReason, isFinal: Bool, metrics: [MetricName: Double],
        origin: SampleOrigin, sites: [MetricName: [(site: CallSite, counters: SiteCounters)]]
    ) {
        self.monotonicNanos = monotonicNanos
        self.wallClockNanos = wallClockNanos
        self.reason = reason
        self.isFinal = isFinal
        self.metrics = metrics
        self.origin = origin
        self.sites = sites
    }
}

extension ProcessTimeline {
    /// Merges the samples of another source into the timeline, in time order. Call sites of an
    /// attributed metric that a sample does not list hold nothing at that sample.
    ///
    /// `sampleRates` marks the metrics whose site counters are estimates (mean bytes between samples).
    public mutating func merge(_ incoming: [SourceSample], from source: TimelineSource, sampleRates: [MetricName: UInt64] = [:]) {
        guard !incoming.isEmpty else { return }
        if !sources.contains(source) { sources.append(source) }
        let added = incoming.sorted { $0.monotonicNanos < $1.monotonicNanos }.map { s in
            (
                Sample(
                    time: Double(Int64(bitPattern: s.monotonicNanos &- startMonotonicNanos)) / 1e9,
                    wallClockNanos: s.wallClockNanos,
                    reason: s.reason, isFinal: s.isFinal, metrics: s.metrics, origin: s.origin), s.sites
            )
        }
        // Merge by time; the old samples keep their order and get new indices.
        var merged: [Sample] = []
        merged.reserveCapacity(samples.count + added.count)
        var newIndex = [Int](repeating: 0, count: samples.count)
        var addedAt: [Int] = []
        var i = 0, j = 0
        while i < samples.count || j < added.count {
            if j == added.count || (i < samples.count && samples[i].time <= added[j].0.time) {
                newIndex[i] = merged.count
                merged.append(samples[i])
                i += 1
            } else {
                addedAt.append(merged.count)
                merged.append(added[j].0)
                j += 1
            }
        }
        samples = merged
        for metric in attributed.keys { attributed[metric]?.renumber(newIndex) }
        // Record the new counters, and zero for sites a sample no longer lists.
        var holding: [MetricName: Set<Int>] = [:]
        for (position, (_, sites)) in added.enumerated() {
            let index = addedAt[position]
            for (metric, list) in sites {
                var table = attributed[metric] ?? AttributedMetric()
                if let rate = sampleRates[metric] { table.sampleRate = rate }
                var now: Set<Int> = []
                for (site, counters) in list {
                    let s = table.index(of: site)
                    table.record(counters, site: s, at: index)
                    now.insert(s)
                }
                for s in holding[metric, default: []] where !now.contains(s) { table.record(.zero, site: s, at: index) }
                holding[metric] = now
                attributed[metric] = table
            }
        }
    }
}

/// Every process timeline of a session, and what could not be read.
public struct SessionTimelines: Sendable {
    /// The session directory.
    public var path: String
    public var processes: [ProcessTimeline]
    /// One line per file or series that was skipped (damaged, truncated, unreadable).
    public var warnings: [String]

    /// Creates a session's timelines.
    public init(path: String, processes: [ProcessTimeline], warnings: [String] = []) {
        self.path = path
        self.processes = processes
        self.warnings = warnings
    }
}
