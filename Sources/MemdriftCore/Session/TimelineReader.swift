import Dispatch
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// What to keep while reading a session into timelines.
public struct TimelineReadOptions: Sendable {
    /// Keep cumulative allocation counters per call site (folded allocs, pprof); judging needs only live bytes.
    public var includeAllocations = true
    /// Most samples kept of one series: a longer one keeps one snapshot in every few, evenly (its
    /// first, last and final ones always). The judge averages long windows down to 720 points anyway.
    public var maximumSamples = 4000

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
            var snapshot = try SnapshotReader.read(path: path)
            if snapshot.header.isDelta { snapshot = try whole(snapshot, at: path) }
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
            // Very long series keep one sample in `stride` (every delta still moves the state on).
            let count = series.snapshotPaths.count
            let stride = max(1, (count + options.maximumSamples - 1) / max(options.maximumSamples, 1))
            var broken = false, dependents = 0
            forEachSnapshot(in: series.snapshotPaths) { i, file, decoded in
                switch decoded {
                case .success(let snapshot):
                    // Deltas after a damaged snapshot build on what was lost: skipped up to the next checkpoint.
                    if broken && snapshot.header.isDelta {
                        dependents += 1
                        return
                    }
                    broken = false
                    builder.add(snapshot, path: file, keep: i % stride == 0 || i == count - 1 || snapshot.header.isFinal)
                case .failure(let error):
                    warnings.append("skipped \(error.description)")
                    broken = true
                }
            }
            if dependents > 0 {
                warnings.append(
                    "skipped \(plural(dependents, "later snapshot")) of \(series.name) that only record changes since a damaged one"
                )
            }
            if var timeline = builder.timeline {
                markTeardown(&timeline)
                processes.append(timeline)
            }
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

    /// Marks as final the periodic samples a process took while it freed everything on its way
    /// out: node and tidy servers free what they hold before exit, and a snapshot that lands in
    /// that moment would end the judged run on the teardown's figures. They are the samples just
    /// before the final snapshot, within three intervals of it, each holding materially less heap
    /// than the one before (at least 64 KiB and 5% less).
    static func markTeardown(_ t: inout ProcessTimeline) {
        guard let final = t.samples.indices.last, t.samples[final].isFinal, final >= 2 else { return }
        let spacing = (t.samples[final - 1].time - t.samples[0].time) / Double(final - 1)
        let since = t.samples[final].time - 3 * max(spacing, 0.1)
        func heap(_ i: Int) -> Double? { t.samples[i].metrics[.heapMalloc] }
        var k = final - 1
        while k >= 1, !t.samples[k].isFinal, t.samples[k].time >= since, let now = heap(k), let before = heap(k - 1),
            now < before - max(65536, 0.05 * before)
        {
            t.samples[k].isFinal = true
            k -= 1
        }
    }

    /// Calls `body` with each file of `paths` decoded, in order. The next files are decoded on
    /// another thread while `body` takes in the current ones: on a long session reading the files
    /// and building the timeline take about as long as each other.
    static func forEachSnapshot(
        in paths: [String], body: (Int, String, Result<Snapshot, FormatError>) -> Void
    ) {
        let chunk = 16
        let queue = DispatchQueue(label: "memdrift.timeline-reader")
        func decode(_ range: Range<Int>) -> (DecodedFiles, DispatchGroup) {
            let files = DecodedFiles(), group = DispatchGroup()
            queue.async(group: group) {
                files.results = paths[range].map { path in
                    Result { () throws(FormatError) in try SnapshotReader.read(path: path) }
                }
            }
            return (files, group)
        }
        var start = 0
        var next = decode(0..<min(chunk, paths.count))
        while start < paths.count {
            let (files, group) = next
            group.wait()
            let end = min(start + chunk, paths.count)
            if end < paths.count { next = decode(end..<min(end + chunk, paths.count)) }
            for (offset, result) in files.results.enumerated() { body(start + offset, paths[start + offset], result) }
            start = end
        }
    }

    /// A delta file as a whole: the snapshots of its series from the last checkpoint before it,
    /// combined up to it.
    static func whole(_ delta: Snapshot, at path: String) throws(FormatError) -> Snapshot {
        let directory = Path.deletingLastComponent(of: path)
        var numbered: [(sequence: UInt64, path: String)] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let sequence = SnapshotSeries.parseSnapshotName(name), sequence < delta.header.sequence else { continue }
            numbered.append((sequence, Path.join(directory, name)))
        }
        let earlier = numbered.sorted { $0.sequence < $1.sequence }.map(\.path)
        var start = earlier.count - 1
        while start >= 0, try SnapshotReader.readHeader(path: earlier[start]).isDelta { start -= 1 }
        guard start >= 0 else {
            throw .unusable(path: path, reason: "it records changes since snapshots that are not next to it")
        }
        var state = try SnapshotReader.read(path: earlier[start])
        for file in earlier[(start + 1)...] { state = Snapshot.combined(state, try SnapshotReader.read(path: file)) }
        return Snapshot.combined(state, delta)
    }

    /// Whether `path` names a directory (following links, as the user means the target).
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}

/// Turns one series of tracker snapshots into a timeline, one sample per snapshot kept.
///
/// It keeps the counters every stack holds now, so checkpoints (every stack that holds anything)
/// and deltas (only the stacks that changed, format 2) read alike, and a sample left out of a long
/// series still moves the state on.
struct TrackerTimelineBuilder {
    let name: String
    let options: TimelineReadOptions
    /// Names code no module holds (JIT and interpreter code), from the runtime's perf map.
    let perfMap: PerfMap?
    private(set) var timeline: ProcessTimeline?
    private var identities: [ModuleIdentity?] = []
    /// The series' source frames by id, as its snapshots gave them (a delta gives only new ones).
    private var sourceFrames: [SourceFrame] = []
    private var heap = StackState()
    private var mapped = StackState()
    private var hasMapped = false

    /// The counters of every stack of one metric now, and which changed since the last sample recorded.
    private struct StackState {
        /// By stack id: the site's index in the metric, -1 until its frames are known.
        private(set) var site: [Int] = []
        /// By site: the stacks that resolve to it (stacks that differ only in what naming cannot
        /// tell apart, such as two addresses in one JIT function, share a site and add up).
        private var stacksOfSite: [[Int]] = []
        var now: [SiteCounters] = []
        /// Stacks changed since the last sample recorded, once each.
        var changed: [Int] = []
        var isChanged: [Bool] = []

        mutating func set(_ id: Int, _ counters: SiteCounters) {
            if id >= now.count {
                let grow = id + 1 - now.count
                now += [SiteCounters](repeating: .zero, count: grow)
                site += [Int](repeating: -1, count: grow)
                isChanged += [Bool](repeating: false, count: grow)
            }
            guard now[id] != counters else { return }
            now[id] = counters
            if !isChanged[id] {
                isChanged[id] = true
                changed.append(id)
            }
        }

        /// A checkpoint lists every stack that holds anything: the others hold nothing.
        mutating func clear(except listed: Set<Int>) {
            for id in now.indices where now[id] != .zero && !listed.contains(id) { set(id, .zero) }
        }

        /// Attributes stack `id` (already set) to the site at `index`.
        mutating func attribute(_ id: Int, to index: Int) {
            site[id] = index
            if index >= stacksOfSite.count { stacksOfSite += [[Int]](repeating: [], count: index + 1 - stacksOfSite.count) }
            stacksOfSite[index].append(id)
        }

        /// Records the changed counters at `sample` into `table`: per site, the sum of its stacks.
        mutating func record(into table: inout AttributedMetric, at sample: Int) {
            for id in changed {
                isChanged[id] = false
                let index = site[id]
                guard index >= 0 else { continue }
                let stacks = stacksOfSite[index]
                // A site with several changed stacks is recorded once per stack, with the same sum.
                table.record(stacks.count == 1 ? now[id] : stacks.reduce(.zero) { $0 + now[$1] }, site: index, at: sample)
            }
            changed.removeAll(keepingCapacity: true)
        }
    }

    init(name: String, options: TimelineReadOptions, perfMap: PerfMap? = nil) {
        self.name = name
        self.options = options
        self.perfMap = perfMap
    }

    /// Applies the snapshot, and appends it as the next sample when `keep` (snapshots must come in
    /// sequence order; a delta applies on top of the ones before it).
    mutating func add(_ snapshot: Snapshot, path: String, keep: Bool = true) {
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
        defer { timeline = t }
        if !snapshot.commandLine.isEmpty { t.commandLine = snapshot.commandLine }
        let f = snapshot.figures
        if !header.isObserved {
            for module in snapshot.modules {
                let index = Int(module.index)
                if index >= identities.count {
                    identities += [ModuleIdentity?](repeating: nil, count: index + 1 - identities.count)
                }
                identities[index] = ModuleIdentity(path: module.path, buildID: module.buildID)
            }
            addSourceFrames(snapshot)
            apply(snapshot, to: &t)
        }
        guard keep else { return }

        var metrics: [MetricName: Double] = [:]
        if !header.isObserved { metrics[.heapMalloc] = Double(f.heapLiveBytes) }
        if hasMapped { metrics[.heapMapped] = Double(f.mappedLiveBytes) }
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
        guard !header.isObserved else { return }
        heap.record(into: &t.attributed[.heapMalloc, default: AttributedMetric()], at: index)
        if hasMapped { mapped.record(into: &t.attributed[.heapMapped, default: AttributedMetric()], at: index) }
    }

    /// Moves the stacks' counters on by one snapshot.
    private mutating func apply(_ snapshot: Snapshot, to t: inout ProcessTimeline) {
        let header = snapshot.header
        var table = t.attributed[.heapMalloc] ?? AttributedMetric()
        table.sampleRate = header.sampleRate
        if !header.isDelta { heap.clear(except: Set(snapshot.stacks.map { Int($0.id) })) }
        for stack in snapshot.stacks {
            let id = Int(stack.id)
            heap.set(id, counters(stack.liveBytes, stack.liveCount, stack.allocatedBytes, stack.allocatedCount))
            // A stack whose frames came in a snapshot that could not be read stays unattributed.
            if heap.site[id] < 0 && !stack.framesDefinedEarlier { heap.attribute(id, to: table.index(of: callSite(stack))) }
        }
        t.attributed[.heapMalloc] = table
        // Mappings the program made itself, by the same stacks (trackers that record them write figure 40).
        guard snapshot.figures.values[ProcessFigures.ID.mappedLiveBytes.rawValue] != nil else { return }
        if !hasMapped {
            hasMapped = true
            t.sources.append(TimelineSource(kind: "tracker", title: "tracker mapped"))
        }
        var mappedTable = t.attributed[.heapMapped] ?? AttributedMetric()
        mappedTable.sampleRate = header.sampleRate
        if !header.isDelta { mapped.clear(except: Set(snapshot.mapped.map { Int($0.stackID) })) }
        for m in snapshot.mapped {
            let id = Int(m.stackID)
            mapped.set(id, counters(m.liveBytes, m.liveCount, m.mappedBytes, m.mappedCount))
            if mapped.site[id] < 0, id < heap.site.count, heap.site[id] >= 0 {
                mapped.attribute(id, to: mappedTable.index(of: table.sites[heap.site[id]]))
            }
        }
        t.attributed[.heapMapped] = mappedTable
    }

    private func counters(_ liveBytes: UInt64, _ liveCount: UInt64, _ allocatedBytes: UInt64, _ allocatedCount: UInt64)
        -> SiteCounters
    {
        SiteCounters(
            liveBytes: Int64(clamping: liveBytes), liveCount: Int64(clamping: liveCount),
            allocatedBytes: options.includeAllocations ? Int64(clamping: allocatedBytes) : 0,
            allocatedCount: options.includeAllocations ? Int64(clamping: allocatedCount) : 0)
    }

    /// Keeps the source frames a snapshot gives: all of them in a checkpoint, those from
    /// `firstSourceFrame` on in a delta. A gap (a snapshot that could not be read) stays unknown.
    private mutating func addSourceFrames(_ snapshot: Snapshot) {
        let first = snapshot.header.isDelta ? Int(snapshot.firstSourceFrame) : 0
        if first < sourceFrames.count { sourceFrames.removeSubrange(first...) }
        if first > sourceFrames.count {
            sourceFrames += [SourceFrame](repeating: .unknown, count: first - sourceFrames.count)
        }
        sourceFrames += snapshot.sourceFrames
    }

    /// The image number from the series name (`pid-4217.2` is image 2).
    private var imageNumber: Int { SnapshotSeries.parseName(name)?.1 ?? 1 }

    /// A stack's call site: its native frames, with the source frames the tracker read (Python's)
    /// in place of the interpreter frames that ran them.
    private func callSite(_ stack: CallStack) -> CallSite {
        CallSite(
            frames: stack.interleaved(
                native: { frame in
                    guard frame.module != Frame.noModule, Int(frame.module) < identities.count,
                        let module = identities[Int(frame.module)]
                    else {
                        // Outside every module: JIT or interpreter code, named by the perf map when it can be.
                        if let named = perfMap?.frame(at: frame.offset) { return .source(named) }
                        return .native(NativeFrame(module: .unknown, offset: frame.offset))
                    }
                    return .native(NativeFrame(module: module, offset: frame.offset))
                },
                source: { id in
                    // Named by a snapshot of this series; one that could not be read leaves a gap.
                    .source(Int(id) < sourceFrames.count ? sourceFrames[Int(id)] : SourceFrame.unknown)
                }))
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

/// Files one thread decoded for another: written before the group is left, read after it is waited for.
private final class DecodedFiles: @unchecked Sendable {
    var results: [Result<Snapshot, FormatError>] = []
}
