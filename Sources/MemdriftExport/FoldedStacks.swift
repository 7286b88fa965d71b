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

/// Builds Brendan Gregg's folded stacks (`root;...;leaf value`) from snapshots.
public struct FoldedStacks: Sendable {
    public let stacks: StackSymbolizer
    /// Add `(file:line)` to each frame name.
    public let lines: Bool

    /// Creates a builder naming frames with `stacks`.
    public init(stacks: StackSymbolizer, lines: Bool = false) {
        self.stacks = stacks
        self.lines = lines
    }

    /// The stacks of `to` measured by `metric`, relative to `from` when given; identical names merge.
    ///
    /// `root` (e.g. the process) becomes the first frame of every stack when given.
    public func build(from: Snapshot?, to: Snapshot, metric: FoldedMetric, root: String? = nil) -> [FoldedStack] {
        // Stacks match by id inside one process image, by their names otherwise.
        let sameImage = from?.isSameImage(as: to) ?? false
        var merged: [[String]: (Int64, Int64)] = [:]
        var earlier: [UInt32: CallStack] = [:]
        if let from, sameImage { for s in from.stacks { earlier[s.id] = s } }
        func add(_ names: [String], before: Int64, after: Int64) {
            let current = merged[names] ?? (0, 0)
            merged[names] = (current.0 + before, current.1 + after)
        }
        for s in to.stacks {
            let before = sameImage ? earlier[s.id].map { value($0, metric) } ?? 0 : 0
            add(names(s, in: to, root: root), before: before, after: value(s, metric))
        }
        if let from, !sameImage {
            for s in from.stacks { add(names(s, in: from, root: root), before: value(s, metric), after: 0) }
        }
        return merged.compactMap { frames, v in
            let (before, after) = v
            switch metric {
            case .live: return after > 0 || before > 0 ? FoldedStack(frames: frames, value: after, before: before) : nil
            case .growth:
                return after - before > 0 ? FoldedStack(frames: frames, value: after - before, before: before) : nil
            case .allocs, .allocBytes:
                // Cumulative counters: the difference is what happened between the snapshots.
                let delta = from == nil ? after : after - before
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

    private func value(_ s: CallStack, _ metric: FoldedMetric) -> Int64 {
        switch metric {
        case .live, .growth: Int64(clamping: s.liveBytes)
        case .allocs: Int64(clamping: s.allocatedCount)
        case .allocBytes: Int64(clamping: s.allocatedBytes)
        }
    }

    private func names(_ stack: CallStack, in snapshot: Snapshot, root: String?) -> [String] {
        var frames = stacks.frames(of: stack, in: snapshot).reversed().map { f -> String in
            let name = lines ? f.displayName : (f.function ?? f.displayName)
            return Self.escape(name)
        }
        if frames.isEmpty { frames = ["[no stack]"] }
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
