import MemdriftCore
import MemdriftSymbolization

/// Builds Go-style heap profiles (alloc/inuse objects and space) from snapshots.
public struct PprofBuilder {
    public let stacks: StackSymbolizer

    private var profile = PprofProfile.heap(samples: [], mappings: [], locations: [], functions: [])
    private var mappingIDs: [String: UInt64] = [:]
    private var locationIDs: [String: UInt64] = [:]
    private var functionIDs: [String: UInt64] = [:]

    /// Creates a builder naming frames with `stacks`; allocator frames are dropped unless it keeps full stacks.
    public init(stacks: StackSymbolizer) { self.stacks = stacks }

    /// Adds every stack of `snapshot`; with `base`, values are the change since it (a growth profile).
    ///
    /// `labels` tag every sample (e.g. the pid), so pprof can filter processes with -tagfocus.
    public mutating func add(_ snapshot: Snapshot, base: Snapshot? = nil, labels: [String: String] = [:]) {
        let sameImage = base?.isSameImage(as: snapshot) ?? false
        var before: [String: [Int64]] = [:]
        if let base {
            for s in base.stacks { before[key(s, in: base, byID: sameImage), default: [0, 0, 0, 0]].add(values(s)) }
        }
        var seen: Set<String> = []
        for s in snapshot.stacks {
            let k = key(s, in: snapshot, byID: sameImage)
            seen.insert(k)
            var v = values(s)
            if let b = before[k] { v = zip(v, b).map { $0 - $1 } }
            guard v.contains(where: { $0 != 0 }) else { continue }
            profile.samples.append(.init(locationIDs: locations(of: s, in: snapshot), values: v, labels: labels))
        }
        if let base {
            // Stacks gone since the base shrank to nothing.
            for s in base.stacks where !seen.contains(key(s, in: base, byID: sameImage)) && s.liveBytes > 0 {
                let v = values(s)
                profile.samples.append(
                    .init(locationIDs: locations(of: s, in: base), values: [0, 0, -v[2], -v[3]], labels: labels))
            }
        }
        profile.timeNanos = Int64(clamping: snapshot.header.wallClockNanos)
        profile.durationNanos = Int64(
            clamping: snapshot.header.monotonicNanos &- (base?.header.monotonicNanos ?? snapshot.header.startMonotonicNanos))
        if snapshot.header.isSampled {
            profile.period = Int64(clamping: snapshot.header.sampleRate)
            let note = "sampled every \(snapshot.header.sampleRate) bytes: values are estimates"
            if !profile.comments.contains(note) { profile.comments.append(note) }
        }
    }

    /// The profile built so far.
    public var result: PprofProfile { profile }

    /// Alloc objects, alloc space, inuse objects, inuse space.
    private func values(_ s: CallStack) -> [Int64] {
        [
            Int64(clamping: s.allocatedCount), Int64(clamping: s.allocatedBytes), Int64(clamping: s.liveCount),
            Int64(clamping: s.liveBytes),
        ]
    }

    /// Stack identity: the id within one process image, module-relative frames otherwise.
    private func key(_ s: CallStack, in snapshot: Snapshot, byID: Bool) -> String {
        if byID { return "#\(s.id)" }
        return s.frames.map { f in
            "\(snapshot.module(of: f).map { $0.buildIDHex.isEmpty ? $0.name : $0.buildIDHex } ?? "?")+\(f.offset)"
        }
        .joined(separator: ";")
    }

    /// Location ids of a stack, leaf first, with leading allocator frames dropped (unless full stacks).
    private mutating func locations(of s: CallStack, in snapshot: Snapshot) -> [UInt64] {
        var frames = s.frames.map { ($0, stacks.symbolize($0, in: snapshot)) }
        if !stacks.fullStacks,
            let first = frames.firstIndex(where: { !$0.1.allSatisfy(AllocatorFrames.isAllocatorOrRuntime) })
        {
            frames.removeFirst(first)
        }
        return frames.map { location($0.0, $0.1, in: snapshot) }
    }

    private mutating func location(_ frame: Frame, _ names: [SymbolizedFrame], in snapshot: Snapshot) -> UInt64 {
        let module = snapshot.module(of: frame)
        let mapping = module.map { self.mapping($0) } ?? 0
        let address = module.map { $0.base &+ frame.offset } ?? frame.offset
        let key = "\(mapping):\(address)"
        if let id = locationIDs[key] { return id }
        let lines = names.map { name in
            PprofProfile.Line(functionID: function(name), line: Int64(name.line ?? 0))
        }
        let id = UInt64(profile.locations.count + 1)
        profile.locations.append(.init(id: id, mappingID: mapping, address: address, lines: lines))
        locationIDs[key] = id
        return id
    }

    private mutating func mapping(_ m: Module) -> UInt64 {
        let key = "\(m.path)@\(m.base)"
        if let id = mappingIDs[key] { return id }
        let id = UInt64(profile.mappings.count + 1)
        profile.mappings.append(
            .init(
                id: id, start: m.start, limit: m.end, fileOffset: m.start &- m.base, filename: m.path, buildID: m.buildIDHex,
                hasFunctions: true, hasFilenames: true, hasLineNumbers: true, hasInlineFrames: true))
        mappingIDs[key] = id
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

extension Array where Element == Int64 {
    fileprivate mutating func add(_ other: [Int64]) {
        for i in indices where i < other.count { self[i] += other[i] }
    }
}
