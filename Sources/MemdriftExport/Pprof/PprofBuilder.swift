import MemdriftAnalysis
import MemdriftCore
import MemdriftPprof
import MemdriftSymbolization

/// Builds Go-style heap profiles (alloc/inuse objects and space) from samples of process timelines.
public struct PprofBuilder {
    public let names: StackSymbolizer
    /// Call sites left out: those the user accepted.
    public let suppressions: Suppressions

    private var profile = PprofProfile.heap(samples: [], mappings: [], locations: [], functions: [])
    private var mappingIDs: [ModuleIdentity: UInt64] = [:]
    private var locationIDs: [CallFrame: [UInt64]] = [:]
    private var functionIDs: [String: UInt64] = [:]

    /// Creates a builder naming frames with `names`; allocator frames are dropped unless it keeps full stacks.
    public init(names: StackSymbolizer, suppressions: Suppressions = Suppressions()) {
        self.names = names
        self.suppressions = suppressions
    }

    private func accepted(_ site: CallSite) -> Bool {
        !suppressions.isEmpty && suppressions.match(names.frames(of: site)) != nil
    }

    /// Adds every call site of `sample`; with `base`, values are the change since it (a growth profile).
    ///
    /// `labels` tag every sample (e.g. the pid), so pprof can filter processes with -tagfocus.
    /// Every attributed metric contributes; when there are several, each sample is labelled with its metric.
    public mutating func add(_ sample: SampleRef, base: SampleRef? = nil, labels: [String: String] = [:]) {
        let metrics = sample.timeline.attributed.keys.sorted()
        for metric in metrics {
            var labels = labels
            if metrics.count > 1 { labels["metric"] = metric.rawValue }
            var before: [CallSite: SiteCounters] = [:]
            if let base { for (site, c) in base.sites(metric) { before[site] = c } }
            var seen: Set<CallSite> = []
            for (site, c) in sample.sites(metric) where !accepted(site) {
                seen.insert(site)
                var v = values(c)
                if let b = before[site] { v = zip(v, values(b)).map { $0 - $1 } }
                guard v.contains(where: { $0 != 0 }) else { continue }
                profile.samples.append(.init(locationIDs: locations(of: site), values: v, labels: labels))
            }
            // Call sites gone since the base shrank to nothing.
            for (site, c) in before where !seen.contains(site) && c.liveBytes > 0 && !accepted(site) {
                profile.samples.append(
                    .init(locationIDs: locations(of: site), values: [0, 0, -c.liveCount, -c.liveBytes], labels: labels))
            }
            let rate = sample.timeline.attributed[metric]?.sampleRate ?? 0
            if rate != 0 {
                profile.period = Int64(clamping: rate)
                let note = "\(metric.rawValue) sampled every \(rate) bytes: values are estimates"
                if !profile.comments.contains(note) { profile.comments.append(note) }
            }
        }
        profile.timeNanos = Int64(clamping: sample.sample.wallClockNanos)
        let since = base?.sample.time ?? 0
        profile.durationNanos = Int64(max(0, sample.sample.time - since) * 1e9)
    }

    /// The profile built so far.
    public var result: PprofProfile { profile }

    /// Alloc objects, alloc space, inuse objects, inuse space.
    private func values(_ c: SiteCounters) -> [Int64] { [c.allocatedCount, c.allocatedBytes, c.liveCount, c.liveBytes] }

    /// Location ids of a call site, leaf first, with leading allocator frames dropped (unless full stacks).
    private mutating func locations(of site: CallSite) -> [UInt64] {
        var frames = site.frames.map { ($0, names.symbolize($0)) }
        if !names.fullStacks,
            let first = frames.firstIndex(where: { !$0.1.allSatisfy(AllocatorFrames.isAllocatorOrRuntime) })
        {
            frames.removeFirst(first)
        }
        return frames.flatMap { location($0.0, $0.1) }
    }

    /// One location per native frame (its inlined lines together); one per source frame.
    private mutating func location(_ frame: CallFrame, _ symbolized: [SymbolizedFrame]) -> [UInt64] {
        if let ids = locationIDs[frame] { return ids }
        let lines = symbolized.map { PprofProfile.Line(functionID: function($0), line: Int64($0.line ?? 0)) }
        let id = UInt64(profile.locations.count + 1)
        switch frame {
        case .native(let f):
            profile.locations.append(.init(id: id, mappingID: mapping(f.module), address: f.offset, lines: lines))
        case .source:
            profile.locations.append(.init(id: id, mappingID: 0, address: 0, lines: lines))
        }
        locationIDs[frame] = [id]
        return [id]
    }

    /// Addresses are module-relative, so every mapping starts at 0 with its file at offset 0.
    private mutating func mapping(_ m: ModuleIdentity) -> UInt64 {
        if let id = mappingIDs[m] { return id }
        let id = UInt64(profile.mappings.count + 1)
        profile.mappings.append(
            .init(
                id: id, start: 0, limit: 1 << 48, fileOffset: 0, filename: m.path, buildID: hexString(m.buildID),
                hasFunctions: true, hasFilenames: true, hasLineNumbers: true, hasInlineFrames: true))
        mappingIDs[m] = id
        return id
    }

    private mutating func function(_ f: SymbolizedFrame) -> UInt64 {
        let name = f.function ?? f.displayName
        let key = "\(name)\u{0}\(f.rawSymbol ?? "")\u{0}\(f.file ?? "")"
        if let id = functionIDs[key] { return id }
        let id = UInt64(profile.functions.count + 1)
        profile.functions.append(.init(id: id, name: name, systemName: f.rawSymbol ?? name, filename: f.file ?? ""))
        functionIDs[key] = id
        return id
    }
}
