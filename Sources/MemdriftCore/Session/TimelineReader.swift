#if canImport(Glibc)
    import Glibc
#endif

/// What to keep while reading a session into timelines.
public struct TimelineReadOptions: Sendable {
    /// Keep cumulative allocation counters per call site (folded allocs, pprof); judging needs only live bytes.
    public var includeAllocations = true

    /// Everything kept.
    public init() {}

    /// Live counters only: what `report`, `gate` and `run` need, in less memory.
    public static let liveOnly: TimelineReadOptions = {
        var o = TimelineReadOptions()
        o.includeAllocations = false
        return o
    }()
}

/// A source of samples beside the tracker's snapshots (a runtime's heap profiles): it merges what
/// it finds in a session into the process timelines. A new runtime is a new adapter.
public protocol TimelineAdapter: Sendable {
    /// Merges this source's samples of the session at `sessionPath` into `processes` (or adds
    /// timelines of their own), appending one line per file it had to skip to `warnings`.
    func merge(sessionPath: String, into processes: inout [ProcessTimeline], warnings: inout [String])
}

/// Reads sessions and snapshot files into process timelines: the adapter for the tracker's `.mds`
/// files, followed by the adapters of other sources.
///
/// A damaged file costs that file: it is skipped with one warning naming it and the rest is read.
public enum TimelineReader {
    /// Every process of the session at `path` (a directory), or the one sample of a snapshot file;
    /// `adapters` add the samples of other sources (the Node.js probe's by default).
    ///
    /// Throws only when nothing usable is left.
    public static func read(
        _ path: String, options: TimelineReadOptions = TimelineReadOptions(),
        adapters: [any TimelineAdapter] = [JavaScriptHeaps()]
    ) throws(FormatError) -> SessionTimelines {
        if !isDirectory(path) {
            let snapshot = try SnapshotReader.read(path: path)
            var builder = TrackerTimelineBuilder(name: "pid-\(snapshot.header.pid)", options: options)
            builder.add(snapshot, path: path)
            return SessionTimelines(path: path, processes: [builder.timeline].compactMap { $0 })
        }
        let session = try Session.open(path)
        var warnings: [String] = []
        var processes: [ProcessTimeline] = []
        var perfMaps: [Int32: PerfMap] = [:]
        for series in session.series {
            let perfMap = perfMaps[series.pid] ?? PerfMap(text: readWholeTextFile(PerfMap.path(in: path, pid: series.pid)) ?? "")
            perfMaps[series.pid] = perfMap
            var builder = TrackerTimelineBuilder(name: series.name, options: options, perfMap: perfMap.isEmpty ? nil : perfMap)
            for file in series.snapshotPaths {
                do throws(FormatError) {
                    builder.add(try SnapshotReader.read(path: file), path: file)
                } catch {
                    warnings.append("skipped \(error.description)")
                }
            }
            if let timeline = builder.timeline { processes.append(timeline) }
        }
        for adapter in adapters { adapter.merge(sessionPath: path, into: &processes, warnings: &warnings) }
        guard !processes.isEmpty else {
            if let first = warnings.first, warnings.count == 1 { throw .unusable(path: path, reason: first) }
            if !warnings.isEmpty {
                throw .unusable(path: path, reason: "every snapshot is damaged (\(warnings.count) skipped)")
            }
            throw .emptySession(path: path)
        }
        return SessionTimelines(path: path, processes: processes, warnings: warnings)
    }

    /// Whether `path` names a directory (following links, as the user means the target).
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}

/// Turns one series of tracker snapshots into a timeline, one sample per snapshot.
struct TrackerTimelineBuilder {
    let name: String
    let options: TimelineReadOptions
    /// Names code no module holds (JIT and interpreter code), from the runtime's perf map.
    let perfMap: PerfMap?
    private(set) var timeline: ProcessTimeline?
    /// Per stack id: the site's index in the heap metric, -1 until seen. Ids are stable within an image.
    private var siteOfStack: [Int] = []
    private var mappedSiteOfStack: [Int] = []
    private var identities: [ModuleIdentity] = []

    init(name: String, options: TimelineReadOptions, perfMap: PerfMap? = nil) {
        self.name = name
        self.options = options
        self.perfMap = perfMap
    }

    /// Appends the snapshot as the next sample; snapshots must come in sequence order.
    mutating func add(_ snapshot: Snapshot, path: String) {
        let header = snapshot.header
        if timeline == nil {
            var t = ProcessTimeline(
                pid: header.pid, image: imageNumber, parentPID: header.parentPID, name: name,
                executable: snapshot.executable, commandLine: snapshot.commandLine,
                startWallClockNanos: header.startWallClockNanos)
            t.sources = [
                header.isObserved
                    ? TimelineSource(kind: "proc", title: "/proc") : TimelineSource(kind: "tracker", title: "tracker heap")
            ]
            t.startMonotonicNanos = header.startMonotonicNanos
            timeline = t
        }
        guard var t = timeline else { return }
        timeline = nil  // keeps the arrays uniquely referenced while they grow
        let f = snapshot.figures
        var metrics: [MetricName: Double] = header.isObserved ? [:] : [.heapMalloc: Double(f.heapLiveBytes)]
        if f.values[ProcessFigures.ID.vmRSS.rawValue] != nil {
            metrics[.rss] = Double(f.rss)
            metrics[.rssAnon] = Double(f[.rssAnon])
            metrics[.rssFile] = Double(f[.rssFile])
            metrics[.rssShmem] = Double(f[.rssShmem])
        }
        let index = t.samples.count
        t.samples.append(
            Sample(
                time: Double(header.monotonicNanos &- t.startMonotonicNanos) / 1e9, wallClockNanos: header.wallClockNanos,
                reason: SampleReason(header.reason), isFinal: header.isFinal, metrics: metrics,
                origin: SampleOrigin(path: path, sequence: header.sequence)))
        if !snapshot.commandLine.isEmpty { t.commandLine = snapshot.commandLine }

        guard !header.isObserved else {
            timeline = t
            return
        }
        refreshIdentities(snapshot.modules)
        var heap = t.attributed[.heapMalloc] ?? AttributedMetric()
        heap.sampleRate = header.sampleRate
        for stack in snapshot.stacks {
            let site = heapSite(stack, in: &heap)
            heap.record(
                counters(stack.liveBytes, stack.liveCount, stack.allocatedBytes, stack.allocatedCount), site: site, at: index)
        }
        t.attributed[.heapMalloc] = heap
        // Mappings the program made itself, by the same stacks (trackers that record them write figure 40).
        if f.values[ProcessFigures.ID.mappedLiveBytes.rawValue] != nil {
            if t.sources.count == 1 { t.sources.append(TimelineSource(kind: "tracker", title: "tracker mapped")) }
            t.samples[index].metrics[.heapMapped] = Double(f.mappedLiveBytes)
            var mapped = t.attributed[.heapMapped] ?? AttributedMetric()
            mapped.sampleRate = header.sampleRate
            for m in snapshot.mapped {
                guard let site = mappedSite(m.stackID, heap: heap, in: &mapped) else { continue }
                mapped.record(counters(m.liveBytes, m.liveCount, m.mappedBytes, m.mappedCount), site: site, at: index)
            }
            t.attributed[.heapMapped] = mapped
        }
        timeline = t
    }

    private func counters(_ liveBytes: UInt64, _ liveCount: UInt64, _ allocatedBytes: UInt64, _ allocatedCount: UInt64)
        -> SiteCounters
    {
        SiteCounters(
            liveBytes: Int64(clamping: liveBytes), liveCount: Int64(clamping: liveCount),
            allocatedBytes: options.includeAllocations ? Int64(clamping: allocatedBytes) : 0,
            allocatedCount: options.includeAllocations ? Int64(clamping: allocatedCount) : 0)
    }

    /// The heap metric's site of a stack, added on first sight (ids are stable within an image).
    private mutating func heapSite(_ stack: CallStack, in heap: inout AttributedMetric) -> Int {
        let id = Int(stack.id)
        if id >= siteOfStack.count { siteOfStack += [Int](repeating: -1, count: id + 1 - siteOfStack.count) }
        if siteOfStack[id] < 0 { siteOfStack[id] = heap.index(of: callSite(stack)) }
        return siteOfStack[id]
    }

    /// The mapped metric's site of a stack: the same call site as the heap's for that stack id.
    private mutating func mappedSite(_ stackID: UInt32, heap: AttributedMetric, in mapped: inout AttributedMetric) -> Int? {
        let id = Int(stackID)
        if id < mappedSiteOfStack.count, mappedSiteOfStack[id] >= 0 { return mappedSiteOfStack[id] }
        guard id < siteOfStack.count, siteOfStack[id] >= 0 else { return nil }
        if id >= mappedSiteOfStack.count {
            mappedSiteOfStack += [Int](repeating: -1, count: id + 1 - mappedSiteOfStack.count)
        }
        mappedSiteOfStack[id] = mapped.index(of: heap.sites[siteOfStack[id]])
        return mappedSiteOfStack[id]
    }

    /// The image number from the series name (`pid-4217.2` is image 2).
    private var imageNumber: Int { SnapshotSeries.parseName(name)?.1 ?? 1 }

    private mutating func refreshIdentities(_ modules: [Module]) {
        guard modules.count != identities.count || zip(modules, identities).contains(where: { $0.path != $1.path }) else {
            return
        }
        identities = modules.map { ModuleIdentity(path: $0.path, buildID: $0.buildID) }
    }

    private func callSite(_ stack: CallStack) -> CallSite {
        CallSite(
            frames: stack.frames.map { frame in
                guard frame.module != Frame.noModule, Int(frame.module) < identities.count else {
                    // Outside every module: JIT or interpreter code, named by the perf map when it can be.
                    if let named = perfMap?.frame(at: frame.offset) { return .source(named) }
                    return .native(NativeFrame(module: .unknown, offset: frame.offset))
                }
                return .native(NativeFrame(module: identities[Int(frame.module)], offset: frame.offset))
            })
    }
}

extension SampleReason {
    /// The sample reason of a snapshot reason.
    init(_ reason: SnapshotReason) {
        switch reason {
        case .interval: self = .interval
        case .request: self = .request
        case .exit: self = .exit
        case .exec: self = .exec
        case .api: self = .api
        case .start: self = .start
        case .other: self = .other
        }
    }
}

/// The Node.js probe's samples (`js-<pid>[-worker-<tid>]`): a process's main isolate joins that
/// process's timeline as the `js.heap` metric; a worker thread's isolate, with a heap of its own, is
/// a timeline of its own.
public struct JavaScriptHeaps: TimelineAdapter {
    static let source = TimelineSource(kind: "js", title: "js heap")

    /// The adapter.
    public init() {}

    public func merge(sessionPath: String, into processes: inout [ProcessTimeline], warnings: inout [String]) {
        for series in JSHeapSeries.list(sessionPath: sessionPath) {
            let (samples, problems) = JSHeapSamples.read(directory: series.path)
            warnings += problems.map { "skipped \($0)" }
            guard let first = samples.first else { continue }
            let incoming = samples.map { s in
                SourceSample(
                    monotonicNanos: s.monotonicNanos, wallClockNanos: s.wallClockNanos, reason: s.reason,
                    isFinal: s.reason == .exit, metrics: [.jsHeap: Double(s.memory.heapUsed)],
                    origin: SampleOrigin(path: s.path, sequence: s.sequence), sites: [.jsHeap: s.sites])
            }
            let rates: [MetricName: UInt64] = [.jsHeap: first.samplingInterval]
            // The main isolate belongs to the newest image of its pid that had started by its first sample.
            let owner =
                series.threadID == 0
                ? processes.indices.filter {
                    processes[$0].pid == series.pid && processes[$0].startMonotonicNanos <= first.monotonicNanos
                }
                .max { processes[$0].image < processes[$1].image } : nil
            if let owner {
                processes[owner].merge(incoming, from: Self.source, sampleRates: rates)
                continue
            }
            let process = processes.first { $0.pid == series.pid }
            var t = ProcessTimeline(
                pid: series.pid, image: series.image, parentPID: first.parentPID, name: series.name,
                executable: process?.executable ?? "node",
                commandLine: (process?.commandLine ?? ["node"]) + (series.threadID == 0 ? [] : ["[worker \(series.threadID)]"]),
                startWallClockNanos: first.wallClockNanos)
            t.startMonotonicNanos = first.monotonicNanos
            t.merge(incoming, from: Self.source, sampleRates: rates)
            processes.append(t)
        }
    }
}

extension ProcessTimeline {
    /// The timeline a runtime's samples of process `pid` join: the newest image of the pid that had
    /// started by `monotonicNanos`.
    public static func owner(of pid: Int32, at monotonicNanos: UInt64, in processes: [ProcessTimeline]) -> Int? {
        processes.indices.filter { processes[$0].pid == pid && processes[$0].startMonotonicNanos <= monotonicNanos }
            .max { processes[$0].image < processes[$1].image }
    }
}
