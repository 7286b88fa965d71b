import MemdriftAnalysis
import MemdriftCore
import MemdriftSymbolization

/// What a folded line's value measures.
public enum FoldedMetric: String, CaseIterable, Sendable {
    /// Live bytes at the later snapshot.
    case live
    /// Live bytes gained between the two snapshots (only stacks that grew).
    case growth
    /// Allocations made (between the snapshots, or since start).
    case allocs
    /// Bytes allocated (between the snapshots, or since start).
    case allocBytes = "alloc-bytes"
}

/// One folded stack: frame names root first, and its value(s).
public struct FoldedStack: Sendable, Hashable {
    public var frames: [String]
    public var value: Int64
    /// The value at the earlier snapshot, for differential flame graphs.
    public var before: Int64
}

/// Builds Brendan Gregg's folded stacks (`root;...;leaf value`) from samples of process timelines.
public struct FoldedStacks: Sendable {
    public let names: StackSymbolizer
    /// Add `(file:line)` to each frame name.
    public let lines: Bool
    /// Call sites left out: those the user accepted.
    public let suppressions: Suppressions

    /// Creates a builder naming frames with `names`.
    public init(names: StackSymbolizer, lines: Bool = false, suppressions: Suppressions = Suppressions()) {
        self.names = names
        self.lines = lines
        self.suppressions = suppressions
    }

    /// The call sites at `to` measured by `metric`, relative to `from` when given; identical names merge.
    ///
    /// Every attributed metric contributes; when more than one does, each stack starts with the
    /// metric's name (`[mapped]`). `root` (e.g. the process) becomes the first frame when given.
    public func build(from: SampleRef?, to: SampleRef, metric: FoldedMetric, root: String? = nil) -> [FoldedStack] {
        var merged: [[String]: (Int64, Int64)] = [:]
        var metricSet = Set(to.timeline.attributed.keys)
        if let from { metricSet.formUnion(from.timeline.attributed.keys) }
        let metrics = metricSet.sorted()
        let tagged = metrics.filter { m in !to.sites(m).isEmpty || !(from?.sites(m).isEmpty ?? true) }.count > 1
        for m in metrics {
            var before: [CallSite: SiteCounters] = [:]
            if let from { for (site, c) in from.sites(m) { before[site] = c } }
            var seen: Set<CallSite> = []
            let prefix = tagged ? "[\(m.title)]" : nil
            func add(_ site: CallSite, before b: Int64, after a: Int64) {
                guard suppressions.isEmpty || suppressions.match(names.frames(of: site)) == nil else { return }
                let key = folded(site, root: root, metric: prefix)
                let current = merged[key] ?? (0, 0)
                merged[key] = (current.0 + b, current.1 + a)
            }
            for (site, c) in to.sites(m) {
                seen.insert(site)
                add(site, before: before[site].map { value($0, metric) } ?? 0, after: value(c, metric))
            }
            for (site, c) in before where !seen.contains(site) { add(site, before: value(c, metric), after: 0) }
        }
        return merged.compactMap { frames, v in
            let (before, after) = v
            switch metric {
            case .live: return after > 0 || before > 0 ? FoldedStack(frames: frames, value: after, before: before) : nil
            case .growth:
                return after - before > 0 ? FoldedStack(frames: frames, value: after - before, before: before) : nil
            case .allocs, .allocBytes:
                // Cumulative counters: the difference is what happened between the samples.
                let delta = after - before
                return delta > 0 ? FoldedStack(frames: frames, value: delta, before: before) : nil
            }
        }.sorted { $0.frames.lexicographicallyPrecedes($1.frames) }
    }

    /// Folded text: `a;b;c 123` per line, or `a;b;c before after` when `differential`.
    public static func render(_ stacks: [FoldedStack], differential: Bool) -> String {
        var out = ""
        for s in stacks {
            out += s.frames.joined(separator: ";")
            out += differential ? " \(s.before) \(s.value)\n" : " \(s.value)\n"
        }
        return out
    }

    private func value(_ c: SiteCounters, _ metric: FoldedMetric) -> Int64 {
        switch metric {
        case .live, .growth: c.liveBytes
        case .allocs: c.allocatedCount
        case .allocBytes: c.allocatedBytes
        }
    }

    private func folded(_ site: CallSite, root: String?, metric: String?) -> [String] {
        var frames = names.frames(of: site).reversed().map { f -> String in
            let name = lines ? f.displayName : (f.function ?? f.displayName)
            return Self.escape(name)
        }
        if frames.isEmpty { frames = ["[no stack]"] }
        if let metric { frames.insert(metric, at: 0) }
        if let root { frames.insert(Self.escape(root), at: 0) }
        return frames
    }

    /// `;` separates frames and a newline ends a line, so neither may appear inside a name.
    static func escape(_ name: String) -> String {
        var out = ""
        for ch in name {
            switch ch {
            case ";": out.append(":")
            case "\n", "\r", "\t": out.append(" ")
            default: out.append(ch)
            }
        }
        return out
    }
}
