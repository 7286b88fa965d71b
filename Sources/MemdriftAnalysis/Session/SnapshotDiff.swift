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
    /// Seconds since the tracker started in that process.
    public var elapsedSeconds: Double
    public var command: String
}

/// One row of a diff: a call site (or function, or module) and how its live heap changed.
public struct CallSiteChange: Sendable {
    /// What the row stands for, as reports print it.
    public var label: String
    /// The call site's frames, leaf first, user code first (empty for module rows).
    public var frames: [SymbolizedFrame]
    public var bytesBefore: UInt64 = 0
    public var bytesAfter: UInt64 = 0
    public var countBefore: UInt64 = 0
    public var countAfter: UInt64 = 0

    public var deltaBytes: Int64 { Int64(bitPattern: bytesAfter &- bytesBefore) }
    public var deltaCount: Int64 { Int64(bitPattern: countAfter &- countBefore) }
}

/// Growth by call site between two snapshots, with heap and RSS totals.
public struct SnapshotDiff: Sendable {
    public var before: SnapshotLabel
    public var after: SnapshotLabel
    public var grouping: Grouping
    public var heapBefore: UInt64
    public var heapAfter: UInt64
    public var rssBefore: UInt64
    public var rssAfter: UInt64
    /// Every row, largest live-byte growth first.
    public var changes: [CallSiteChange]
    /// Modules whose build differs between the two snapshots: their frames were matched by name.
    public var rebuiltModules: [String]
}

/// Compares snapshots of one process, of two processes, or of two runs of the same program.
public struct SnapshotComparer: Sendable {
    public let stacks: StackSymbolizer

    /// Creates a comparer that names frames with `stacks`.
    public init(stacks: StackSymbolizer) { self.stacks = stacks }

    /// Diffs `before` against `after`. `paths` only label the result.
    public func diff(_ before: Snapshot, _ after: Snapshot, grouping: Grouping, paths: (String, String) = ("", ""))
        -> SnapshotDiff
    {
        let sameImage = before.isSameImage(as: after)
        let rebuilt = rebuiltModules(before, after)
        let keyer = Keyer(stacks: stacks, grouping: grouping, byID: sameImage && grouping == .stack, rebuilt: rebuilt)

        var rows: [String: CallSiteChange] = [:]
        var representatives: [String: (CallStack, Snapshot)] = [:]
        for (snapshot, isAfter) in [(before, false), (after, true)] {
            for stack in snapshot.stacks where stack.liveBytes > 0 || stack.liveCount > 0 {
                let key = keyer.key(stack, in: snapshot)
                var row = rows[key] ?? CallSiteChange(label: "", frames: [])
                if isAfter {
                    row.bytesAfter += stack.liveBytes
                    row.countAfter += stack.liveCount
                } else {
                    row.bytesBefore += stack.liveBytes
                    row.countBefore += stack.liveCount
                }
                rows[key] = row
                if isAfter || representatives[key] == nil { representatives[key] = (stack, snapshot) }
            }
        }
        var changes: [CallSiteChange] = []
        changes.reserveCapacity(rows.count)
        for (key, var row) in rows {
            if let (stack, snapshot) = representatives[key] {
                let frames = stacks.frames(of: stack, in: snapshot)
                switch grouping {
                case .stack:
                    row.frames = frames
                    row.label = frames.first?.displayName ?? "[no stack]"
                case .function:
                    row.frames = Array(frames.prefix(1))
                    row.label = frames.first.map { $0.function ?? $0.displayName } ?? "[no stack]"
                case .module:
                    row.label = frames.first?.module ?? "[unknown]"
                }
            }
            changes.append(row)
        }
        changes.sort { ($0.deltaBytes, $1.label) > ($1.deltaBytes, $0.label) }
        return SnapshotDiff(
            before: label(before, paths.0), after: label(after, paths.1), grouping: grouping,
            heapBefore: before.figures.heapLiveBytes, heapAfter: after.figures.heapLiveBytes,
            rssBefore: before.figures.rss, rssAfter: after.figures.rss, changes: changes, rebuiltModules: rebuilt.sorted())
    }

    /// Module names present in both snapshots under different build-ids.
    private func rebuiltModules(_ a: Snapshot, _ b: Snapshot) -> Set<String> {
        var ids: [String: [UInt8]] = [:]
        for m in a.modules { ids[m.name] = m.buildID }
        var rebuilt: Set<String> = []
        for m in b.modules { if let other = ids[m.name], other != m.buildID { rebuilt.insert(m.name) } }
        return rebuilt
    }

    private func label(_ s: Snapshot, _ path: String) -> SnapshotLabel {
        SnapshotLabel(
            path: path, pid: s.header.pid, sequence: s.header.sequence, elapsedSeconds: s.elapsedSeconds,
            command: s.commandLine.isEmpty ? s.executable : s.commandLine.joined(separator: " "))
    }
}

/// Turns a stack into the key rows are grouped by.
private struct Keyer {
    let stacks: StackSymbolizer
    let grouping: Grouping
    /// Both snapshots come from one process image: stack ids identify stacks.
    let byID: Bool
    let rebuilt: Set<String>

    func key(_ stack: CallStack, in snapshot: Snapshot) -> String {
        if byID { return "#\(stack.id)" }
        switch grouping {
        case .stack:
            // Offsets identify code within one build; a rebuilt module's frames are matched by name.
            return stack.frames.map { frame -> String in
                guard let module = snapshot.module(of: frame) else { return "?+\(frame.offset)" }
                let byOffset = "\(module.name)+\(frame.offset)"
                guard rebuilt.contains(module.name) else { return byOffset }
                // Only a build still on disk can be named; an unnamed frame must not merge with others.
                let names = stacks.symbolize(frame, in: snapshot).map(\.function)
                guard names.allSatisfy({ $0 != nil }) else { return byOffset }
                return "\(module.name):" + names.compactMap { $0 }.joined(separator: "/")
            }.joined(separator: ";")
        case .function:
            guard let first = stacks.frames(of: stack, in: snapshot).first else { return "[no stack]" }
            return first.function.map { "\(first.module):\($0)" } ?? first.displayName
        case .module:
            return stacks.frames(of: stack, in: snapshot).first?.module ?? "[unknown]"
        }
    }
}
