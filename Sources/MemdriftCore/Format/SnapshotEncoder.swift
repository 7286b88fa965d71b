/// Encodes snapshots in the tracker's format: for synthetic sessions in tests and benchmarks.
public enum SnapshotEncoder {
    /// The complete file bytes of `snapshot`, trailer and checksum included.
    public static func encode(_ snapshot: Snapshot) -> [UInt8] {
        var w = ByteWriter()
        let h = snapshot.header
        w.bytes(SnapshotFormat.magic)
        w.u32(h.formatVersion)
        w.u32(UInt32(SnapshotFormat.headerBytes))
        w.u32(h.flags)
        w.u32(reasonCode(h.reason))
        w.u32(UInt32(bitPattern: h.pid))
        w.u32(UInt32(bitPattern: h.parentPID))
        for v in [
            h.sequence, h.wallClockNanos, h.monotonicNanos, h.startWallClockNanos, h.startMonotonicNanos,
            h.intervalNanos, h.sampleRate,
        ] { w.u64(v) }
        w.u32(7)  // sections
        w.u32(h.maxDepth)

        w.section(.process) { w in
            let exe = Array(snapshot.executable.utf8)
            w.u32(UInt32(exe.count))
            w.bytes(exe)
            let cmdline: [UInt8] = snapshot.commandLine.flatMap { Array($0.utf8) + [UInt8(0)] }
            w.u32(UInt32(cmdline.count))
            w.bytes(cmdline)
        }
        w.section(.figures) { w in
            let figures = snapshot.figures.values.sorted { $0.key < $1.key }
            w.u32(UInt32(figures.count))
            for (id, value) in figures {
                w.u32(id)
                w.u32(0)
                w.u64(value)
            }
        }
        w.section(.modules) { w in
            w.u32(UInt32(snapshot.modules.count))
            for m in snapshot.modules {
                let path = Array(m.path.utf8)
                w.u32(m.index)
                w.u32(m.isLoaded ? 1 : 0)
                w.u64(m.base)
                w.u64(m.start)
                w.u64(m.end)
                w.u16(UInt16(m.buildID.count))
                w.u16(UInt16(path.count))
                w.bytes(m.buildID)
                w.bytes(path)
            }
        }
        w.section(.stacks) { w in
            w.u32(UInt32(snapshot.stacks.count))
            if snapshot.header.formatVersion >= 2 {
                writeCompactStacks(snapshot.stacks, to: &w)
                return
            }
            for s in snapshot.stacks {
                w.u32(s.id)
                w.u16(UInt16(s.frames.count))
                w.u16(0)
                for v in [s.liveBytes, s.liveCount, s.allocatedBytes, s.allocatedCount] { w.u64(v) }
                for f in s.frames {
                    w.u32(f.module)
                    w.u64(f.offset)
                }
            }
        }
        w.section(.mapped) { w in
            w.u32(UInt32(snapshot.mapped.count))
            for m in snapshot.mapped {
                w.u32(m.stackID)
                w.u32(0)
                for v in [m.liveBytes, m.liveCount, m.mappedBytes, m.mappedCount] { w.u64(v) }
            }
        }
        w.section(.sourceFrames) { w in
            w.u32(snapshot.firstSourceFrame)
            var strings: [String] = []
            var index: [String: UInt32] = [:]
            func id(_ s: String) -> UInt32 {
                if let i = index[s] { return i }
                index[s] = UInt32(strings.count)
                strings.append(s)
                return UInt32(strings.count - 1)
            }
            let records = snapshot.sourceFrames.map { f in
                [id(f.runtime), id(f.function), id(f.file ?? ""), UInt32(f.line ?? 0)]
            }
            w.u32(UInt32(strings.count))
            for s in strings {
                let bytes = Array(s.utf8)
                w.u32(UInt32(bytes.count))
                w.bytes(bytes)
            }
            w.u32(UInt32(records.count))
            for record in records { for v in record { w.u32(v) } }
        }
        w.section(.sourceSplices) { w in
            let spliced = snapshot.stacks.filter { !$0.splices.isEmpty }
            w.u32(UInt32(spliced.count))
            for s in spliced {
                w.u32(s.id)
                w.u32(UInt32(s.splices.count))
                for splice in s.splices {
                    w.u16(UInt16(splice.nativeIndex))
                    w.u16(UInt16(splice.replacedCount))
                    w.u32(UInt32(splice.sourceFrames.count))
                    for f in splice.sourceFrames { w.u32(f) }
                }
            }
        }
        w.bytes(SnapshotFormat.trailerMagic)
        w.u64(UInt64(w.data.count + 16))
        let sum = w.data.withUnsafeBytes { SnapshotFormat.checksum($0) }
        w.u64(sum)
        return w.data
    }

    /// Version 2's stack entries (docs/FORMAT.md): ids by their gaps, integers as LEB128, and of the
    /// frames only those not shared, from the root, with the previous stack that gave frames.
    /// `stacks` must be in increasing id order.
    private static func writeCompactStacks(_ stacks: [CallStack], to w: inout ByteWriter) {
        var previousID: UInt32?
        var previousFrames: [Frame] = []
        for s in stacks {
            w.uvarint(UInt64(previousID.map { s.id - $0 - 1 } ?? s.id))
            previousID = s.id
            w.uvarint(UInt64(s.frames.count) << 1 | (s.framesDefinedEarlier ? 1 : 0))
            for v in [s.liveBytes, s.liveCount, s.allocatedBytes, s.allocatedCount] { w.uvarint(v) }
            guard !s.frames.isEmpty else { continue }
            let shared = zip(s.frames.reversed(), previousFrames.reversed()).prefix { $0 == $1 }.count
            w.uvarint(UInt64(shared))
            for f in s.frames.dropLast(shared) {
                w.uvarint(f.module == Frame.noModule ? 0 : UInt64(f.module) + 1)
                w.uvarint(f.offset)
            }
            previousFrames = s.frames
        }
    }

    private static func reasonCode(_ reason: SnapshotReason) -> UInt32 {
        switch reason {
        case .interval: 1
        case .request: 2
        case .exit: 3
        case .exec: 4
        case .api: 5
        case .start: 6
        case .other(let code): code
        }
    }
}

/// Little-endian byte output.
struct ByteWriter {
    var data: [UInt8] = []

    mutating func bytes(_ b: [UInt8]) { data.append(contentsOf: b) }
    mutating func u16(_ v: UInt16) { integer(UInt64(v), 2) }
    mutating func u32(_ v: UInt32) { integer(UInt64(v), 4) }
    mutating func u64(_ v: UInt64) { integer(v, 8) }

    /// An unsigned LEB128 integer (`ByteReader.uvarint`).
    mutating func uvarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            data.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        data.append(UInt8(v))
    }

    private mutating func integer(_ v: UInt64, _ size: Int) {
        for i in 0..<size { data.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    mutating func section(_ kind: SnapshotFormat.Section, _ body: (inout ByteWriter) -> Void) {
        u32(kind.rawValue)
        u32(0)
        var inner = ByteWriter()
        body(&inner)
        u64(UInt64(inner.data.count))
        bytes(inner.data)
    }
}
