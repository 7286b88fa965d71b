import MemdriftCore
import MemdriftSymbolization

/// How `diff` groups stacks into rows.
public enum Grouping: String, CaseIterable, Sendable {
    /// One row per distinct call stack.
    case stack
    /// One row per first user-code function (allocator frames folded away).
    case function
    /// One row per module of that first user-code frame.
    case module
}

/// Where a compared snapshot came from.
public struct SnapshotLabel: Sendable, Hashable {
    public var path: String
    public var pid: Int32
    public var sequence: UInt64
    /// Seconds since the process image started.
    public var elapsedSeconds: Double
    public var command: String
}

/// One row of a diff: a call site (or function, or module) of one metric and how its live bytes changed.
public struct CallSiteChange: Sendable {
    /// The attributed metric the row belongs to (`heap.malloc`, `heap.mapped`, ...).
    public var metric: MetricName
    /// What the row stands for, as reports print it.
    public var label: String
    /// The call site's frames, leaf first, user code first (empty for module rows).
    public var frames: [SymbolizedFrame]
    public var bytesBefore: Int64 = 0
    public var bytesAfter: Int64 = 0
    public var countBefore: Int64 = 0
    public var countAfter: Int64 = 0

    public var deltaBytes: Int64 { bytesAfter - bytesBefore }
    public var deltaCount: Int64 { countAfter - countBefore }
}

/// Growth by call site between two samples, with the process totals.
public struct SnapshotDiff: Sendable {
    public var before: SnapshotLabel
    public var after: SnapshotLabel
    public var grouping: Grouping
    /// Every metric measured in both samples: value before and after.
    public var totals: [(metric: MetricName, before: Double, after: Double)]
    /// Every row, largest live-byte growth first.
    public var changes: [CallSiteChange]
    /// Modules whose build differs between the two samples: their frames were matched by name.
    public var rebuiltModules: [String]
}

extension SampleRef {
    /// How reports name it.
    public var label: SnapshotLabel {
        SnapshotLabel(
            path: sample.origin.path, pid: timeline.pid, sequence: sample.origin.sequence, elapsedSeconds: sample.time,
            command: timeline.command)
    }
}

/// Compares samples of one process, of two processes, or of two runs of the same program.
public struct SnapshotComparer: Sendable {
    public let names: StackSymbolizer
    /// Call sites left out of every row: those the user accepted.
    public let suppressions: Suppressions

    /// Creates a comparer that names frames with `names`.
    public init(names: StackSymbolizer, suppressions: Suppressions = Suppressions()) {
        self.names = names
        self.suppressions = suppressions
    }

    /// Diffs `before` against `after`.
    public func diff(_ before: SampleRef, _ after: SampleRef, grouping: Grouping) -> SnapshotDiff {
        let rebuilt = rebuiltModules(before, after)
        var rows: [RowKey: CallSiteChange] = [:]
        let metrics = Set(before.timeline.attributed.keys).union(after.timeline.attributed.keys).sorted()
        for metric in metrics {
            for (side, isAfter) in [(before, false), (after, true)] {
                for (site, c) in side.sites(metric) where c.liveBytes != 0 || c.liveCount != 0 {
                    if !suppressions.isEmpty && suppressions.match(names.frames(of: site)) != nil { continue }
                    let key = key(site, metric: metric, grouping: grouping, rebuilt: rebuilt)
                    var row = rows[key] ?? label(site, metric: metric, grouping: grouping)
                    if isAfter {
                        row.bytesAfter += c.liveBytes
                        row.countAfter += c.liveCount
                    } else {
                        row.bytesBefore += c.liveBytes
                        row.countBefore += c.liveCount
                    }
                    rows[key] = row
                }
            }
        }
        let changes = rows.values.sorted { ($0.deltaBytes, $1.label) > ($1.deltaBytes, $0.label) }
        let totals = before.sample.metrics.keys.filter { after.sample.metrics[$0] != nil }.sorted().map {
            (metric: $0, before: before.sample.metrics[$0] ?? 0, after: after.sample.metrics[$0] ?? 0)
        }
        return SnapshotDiff(
            before: before.label, after: after.label, grouping: grouping, totals: totals, changes: changes,
            rebuiltModules: rebuilt.sorted())
    }

    /// What rows are grouped by: the call site itself (native frames of rebuilt modules by name),
    /// its first user-code function, or that function's module.
    private enum RowKey: Hashable {
        case site(MetricName, CallSite)
        case named(MetricName, String)
    }

    private func key(_ site: CallSite, metric: MetricName, grouping: Grouping, rebuilt: Set<String>) -> RowKey {
        switch grouping {
        case .stack:
            guard !rebuilt.isEmpty else { return .site(metric, site) }
            // Offsets identify code within one build; a rebuilt module's frames are matched by name.
            // Only a build still on disk can be named; an unnamed frame must not merge with others.
            let frames = site.frames.map { frame -> CallFrame in
                guard case .native(let native) = frame, rebuilt.contains(native.module.name) else { return frame }
                let named = names.symbolize(frame).compactMap(\.function)
                guard !named.isEmpty, named.count == names.symbolize(frame).count else { return frame }
                return .source(SourceFrame(runtime: native.module.name, function: named.joined(separator: "/")))
            }
            return .site(metric, CallSite(frames: frames))
        case .function:
            guard let first = names.frames(of: site).first else { return .named(metric, "[no stack]") }
            return .named(metric, first.function.map { "\(first.module):\($0)" } ?? first.displayName)
        case .module:
            return .named(metric, names.frames(of: site).first?.module ?? "[unknown]")
        }
    }

    private func label(_ site: CallSite, metric: MetricName, grouping: Grouping) -> CallSiteChange {
        let frames = names.frames(of: site)
        switch grouping {
        case .stack:
            return CallSiteChange(metric: metric, label: frames.first?.displayName ?? "[no stack]", frames: frames)
        case .function:
            return CallSiteChange(
                metric: metric, label: frames.first.map { $0.function ?? $0.displayName } ?? "[no stack]",
                frames: Array(frames.prefix(1)))
        case .module:
            return CallSiteChange(metric: metric, label: frames.first?.module ?? "[unknown]", frames: [])
        }
    }

    /// Module names present on both sides under different build-ids.
    private func rebuiltModules(_ a: SampleRef, _ b: SampleRef) -> Set<String> {
        func modules(_ s: SampleRef) -> [String: ModuleIdentity] {
            var byName: [String: ModuleIdentity] = [:]
            for table in s.timeline.attributed.values {
                for site in table.sites {
                    for case .native(let f) in site.frames where !f.module.buildID.isEmpty { byName[f.module.name] = f.module }
                }
            }
            return byName
        }
        let before = modules(a)
        var rebuilt: Set<String> = []
        for (name, module) in modules(b) {
            if let other = before[name], other.buildID != module.buildID { rebuilt.insert(name) }
        }
        return rebuilt
    }
}
