#if canImport(Glibc)
    import Glibc
#endif

/// Decodes snapshot files, validating every length against the file before trusting it.
public enum SnapshotReader {
    /// Reads and decodes the snapshot file at `path`.
    public static func read(path: String) throws(FormatError) -> Snapshot {
        try decode(try readFile(path), path: path)
    }

    /// Reads only the header of the snapshot file at `path`: for times, pids and sequence numbers.
    ///
    /// It rejects what a full read rejects before the sections (empty, foreign, newer-version and
    /// truncated files, a missing trailer); only the checksum is left to `read(path:)`.
    public static func readHeader(path: String) throws(FormatError) -> SnapshotHeader {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: systemError()) }
        defer { close(fd) }
        let size = try regularFileSize(fd, path: path)
        let prefix = try readBytes(fd, at: 0, count: min(size, SnapshotFormat.headerBytes), path: path)
        let (version, _) = try checkStart(prefix, fileSize: size, path: path)
        let tail = try readBytes(fd, at: size - SnapshotFormat.trailerBytes, count: SnapshotFormat.trailerBytes, path: path)
        _ = try checkTrailer(tail[...], fileSize: size, path: path)
        return try headerFields(prefix, version: version, path: path).header
    }

    /// Reads the header, command line and figures of the snapshot file at `path`, without its
    /// modules and stacks: for progress lines that look at every new snapshot of a running session.
    ///
    /// It reads only the file's beginning, so the checksum is not verified; `read(path:)` does that.
    public static func readSummary(path: String) throws(FormatError) -> Snapshot {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: systemError()) }
        defer { close(fd) }
        let size = try regularFileSize(fd, path: path)
        let prefix = try readBytes(fd, at: 0, count: min(size, 64 * 1024), path: path)
        let (version, headerBytes) = try checkStart(prefix, fileSize: size, path: path)
        let (header, sectionCount) = try headerFields(prefix, version: version, path: path)
        var snapshot = Snapshot(
            header: header, executable: "", commandLine: [], figures: ProcessFigures(), modules: [], stacks: [])
        var r = ByteReader(prefix, path: path, offset: headerBytes, end: prefix.count)
        for _ in 0..<sectionCount {
            guard r.remaining >= 16 else { break }
            let kind = try r.u32()
            _ = try r.u32()
            let length = try r.u64()
            guard length <= UInt64(r.remaining) else { break }
            var section = ByteReader(prefix, path: path, offset: r.offset, end: r.offset + Int(length))
            switch SnapshotFormat.Section(rawValue: kind) {
            case .process: try readProcess(&section, into: &snapshot)
            case .figures: try readFigures(&section, into: &snapshot)
            default: break
            }
            try r.skip(Int(length))
        }
        return snapshot
    }

    /// Decodes a snapshot from its bytes; `path` only names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(FormatError) -> Snapshot {
        let (version, headerBytes) = try checkStart(bytes, fileSize: bytes.count, path: path)
        let end = bytes.count - SnapshotFormat.trailerBytes
        let stored = try checkTrailer(bytes[end...], fileSize: bytes.count, path: path)
        let computed = bytes.withUnsafeBytes {
            SnapshotFormat.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<bytes.count - 8]))
        }
        guard stored == computed else { throw .checksumMismatch(path: path) }

        let (header, sectionCount) = try headerFields(bytes, version: version, path: path)
        var snapshot = Snapshot(
            header: header, executable: "", commandLine: [], figures: ProcessFigures(), modules: [], stacks: [])
        var r = ByteReader(bytes, path: path, offset: headerBytes, end: end)

        var stacksAt: (Int, Int)?
        var mappedAt: (Int, Int)?
        var sourceFramesAt: (Int, Int)?
        var splicesAt: (Int, Int)?
        for _ in 0..<sectionCount {
            let kindAt = r.offset
            let kind = try r.u32()
            _ = try r.u32()
            let length = try r.u64()
            guard length <= UInt64(r.remaining) else {
                throw .corrupt(path: path, offset: kindAt, detail: "section of \(length) bytes runs past the end")
            }
            let start = r.offset
            let stop = start + Int(length)
            var section = ByteReader(bytes, path: path, offset: start, end: stop)
            switch SnapshotFormat.Section(rawValue: kind) {
            case .process:
                try readProcess(&section, into: &snapshot)
            case .figures:
                try readFigures(&section, into: &snapshot)
            case .modules:
                snapshot.modules = try readModules(&section, complete: !header.isDelta)
            case .stacks:
                stacksAt = (start, stop)  // frames are checked against the modules, which may come later
            case .mapped:
                mappedAt = (start, stop)  // stack ids are checked against the stacks
            case .sourceFrames:
                sourceFramesAt = (start, stop)
            case .sourceSplices:
                splicesAt = (start, stop)  // checked against the stacks and the source frames
            case nil:
                break  // a newer tracker's section: skip it
            }
            try r.skip(Int(length))
        }
        // A delta's frames may refer to modules, and its mapped memory to stacks, of earlier snapshots.
        let complete = !header.isDelta
        if let (start, stop) = stacksAt {
            var section = ByteReader(bytes, path: path, offset: start, end: stop)
            let moduleCount = complete ? snapshot.modules.count : nil
            snapshot.stacks =
                header.formatVersion >= 2
                ? try readCompactStacks(&section, moduleCount: moduleCount, maximumDepth: max(Int(header.maxDepth), 256))
                : try readStacks(&section, moduleCount: moduleCount)
        }
        if let (start, stop) = mappedAt {
            var section = ByteReader(bytes, path: path, offset: start, end: stop)
            snapshot.mapped = try readMapped(&section, stackIDs: complete ? Set(snapshot.stacks.map(\.id)) : nil)
        }
        if let (start, stop) = sourceFramesAt {
            var section = ByteReader(bytes, path: path, offset: start, end: stop)
            (snapshot.firstSourceFrame, snapshot.sourceFrames) = try readSourceFrames(&section)
        }
        if let (start, stop) = splicesAt {
            var section = ByteReader(bytes, path: path, offset: start, end: stop)
            let known = Int(snapshot.firstSourceFrame) + snapshot.sourceFrames.count
            try readSplices(&section, into: &snapshot.stacks, sourceFrames: known)
        }
        return snapshot
    }

    /// Checks magic, version and header size at the start of a file of `fileSize` bytes, and that
    /// the file is long enough for its header and trailer. `bytes` may be just the file's beginning.
    private static func checkStart(_ bytes: [UInt8], fileSize: Int, path: String) throws(FormatError) -> (
        version: UInt32, headerBytes: Int
    ) {
        guard fileSize > 0 else { throw .empty(path: path) }
        let magic = SnapshotFormat.magic
        guard bytes.count >= magic.count else {
            if Array(magic.prefix(bytes.count)) == bytes {
                throw .truncated(path: path, offset: bytes.count, needed: magic.count - bytes.count)
            }
            throw .notASnapshot(path: path)
        }
        guard Array(bytes.prefix(magic.count)) == magic else { throw .notASnapshot(path: path) }
        var r = ByteReader(bytes, path: path, offset: magic.count)
        let version = try r.u32()
        guard version >= 1 else { throw .corrupt(path: path, offset: 8, detail: "format version 0") }
        guard version <= SnapshotFormat.version else {
            throw .newerVersion(path: path, found: version, supported: SnapshotFormat.version)
        }
        let headerBytes = Int(try r.u32())
        guard headerBytes >= SnapshotFormat.headerBytes else {
            throw .corrupt(path: path, offset: 12, detail: "header size \(headerBytes) is below \(SnapshotFormat.headerBytes)")
        }
        let minimum = headerBytes + SnapshotFormat.trailerBytes
        guard fileSize >= minimum else { throw .truncated(path: path, offset: fileSize, needed: minimum - fileSize) }
        return (version, headerBytes)
    }

    /// Checks the trailer (the file's last bytes) against the file's size; returns the stored checksum.
    private static func checkTrailer(_ tail: ArraySlice<UInt8>, fileSize: Int, path: String) throws(FormatError) -> UInt64 {
        let trailer = fileSize - SnapshotFormat.trailerBytes
        let bytes = Array(tail)
        guard bytes.count == SnapshotFormat.trailerBytes, Array(bytes[0..<8]) == SnapshotFormat.trailerMagic else {
            throw .corrupt(path: path, offset: trailer, detail: "no trailer: the file was cut short or overwritten")
        }
        var r = ByteReader(bytes, path: path, offset: 8)
        let length = try r.u64()
        guard length == UInt64(fileSize) else {
            throw .corrupt(path: path, offset: trailer + 8, detail: "trailer says \(length) bytes, file has \(fileSize)")
        }
        return try r.u64()
    }

    /// The fixed header fields after magic, version and header size.
    private static func headerFields(_ bytes: [UInt8], version: UInt32, path: String) throws(FormatError) -> (
        header: SnapshotHeader, sectionCount: UInt32
    ) {
        var r = ByteReader(bytes, path: path, offset: 16, end: min(bytes.count, SnapshotFormat.headerBytes))
        let flags = try r.u32()
        let reason = SnapshotReason(code: try r.u32())
        var header = SnapshotHeader(
            formatVersion: version, flags: flags, reason: reason, pid: try r.i32(), parentPID: try r.i32(),
            sequence: try r.u64(), wallClockNanos: try r.u64(), monotonicNanos: try r.u64(),
            startWallClockNanos: try r.u64(), startMonotonicNanos: try r.u64(), intervalNanos: try r.u64(),
            sampleRate: try r.u64(), maxDepth: 0)
        let sectionCount = try r.u32()
        header.maxDepth = try r.u32()
        return (header, sectionCount)
    }

    private static func readProcess(_ section: inout ByteReader, into snapshot: inout Snapshot) throws(FormatError) {
        snapshot.executable = try section.string(Int(try section.u32()))
        let cmdline = try section.bytes(Int(try section.u32()))
        snapshot.commandLine = cmdline.split(separator: 0, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        if snapshot.commandLine.last == "" { snapshot.commandLine.removeLast() }
    }

    private static func readFigures(_ section: inout ByteReader, into snapshot: inout Snapshot) throws(FormatError) {
        let n = try section.count(minimumBytes: 16, what: "figure")
        for _ in 0..<n {
            let id = try section.u32()
            _ = try section.u32()
            snapshot.figures.values[id] = try section.u64()
        }
    }

    /// Every module in index order (`complete`), or a delta's new and changed ones in increasing index order.
    private static func readModules(_ r: inout ByteReader, complete: Bool) throws(FormatError) -> [Module] {
        let n = try r.count(minimumBytes: 36, what: "module")
        var modules: [Module] = []
        modules.reserveCapacity(n)
        for position in 0..<n {
            let at = r.offset
            let index = try r.u32()
            guard complete ? index == UInt32(position) : modules.last.map({ index > $0.index }) ?? true else {
                throw .corrupt(path: r.path, offset: at, detail: "module \(position) has index \(index)")
            }
            let flags = try r.u32()
            let base = try r.u64(), start = try r.u64(), end = try r.u64()
            let idLength = Int(try r.u16()), pathLength = Int(try r.u16())
            let buildID = Array(try r.bytes(idLength))
            let path = try r.string(pathLength)
            modules.append(
                Module(index: index, isLoaded: flags & 1 != 0, base: base, start: start, end: end, buildID: buildID, path: path))
        }
        return modules
    }

    /// Version 1's stack entries. `moduleCount` bounds frames' module indices when the snapshot
    /// lists every module.
    private static func readStacks(_ r: inout ByteReader, moduleCount: Int?) throws(FormatError) -> [CallStack] {
        let n = try r.count(minimumBytes: 40, what: "stack")
        var stacks: [CallStack] = []
        stacks.reserveCapacity(n)
        for _ in 0..<n {
            let id = try r.u32()
            let depth = Int(try r.u16())
            _ = try r.u16()  // flags: none in version 1
            let liveBytes = try r.u64(), liveCount = try r.u64(), allocatedBytes = try r.u64(), allocatedCount = try r.u64()
            try r.need(depth * 12)
            var frames: [Frame] = []
            frames.reserveCapacity(depth)
            for _ in 0..<depth {
                let at = r.offset
                let module = try r.u32()
                if let moduleCount, module != Frame.noModule && Int(module) >= moduleCount {
                    throw .corrupt(path: r.path, offset: at, detail: "frame refers to module \(module) of \(moduleCount)")
                }
                frames.append(Frame(module: module, offset: try r.u64()))
            }
            stacks.append(
                CallStack(
                    id: id, frames: frames, liveBytes: liveBytes, liveCount: liveCount, allocatedBytes: allocatedBytes,
                    allocatedCount: allocatedCount))
        }
        return stacks
    }

    /// Version 2's stack entries (docs/FORMAT.md): ids by their gaps, LEB128 integers, frames shared
    /// from the root with the previous stack that gave frames. A stack is at most `maximumDepth`
    /// frames, and the section never expands to more than 16 frames per byte of it.
    private static func readCompactStacks(_ r: inout ByteReader, moduleCount: Int?, maximumDepth: Int)
        throws(FormatError) -> [CallStack]
    {
        let n = try r.count(minimumBytes: 6, what: "stack")
        var frameBudget = 16 * r.remaining + maximumDepth
        var stacks: [CallStack] = []
        stacks.reserveCapacity(n)
        var nextID: UInt64 = 0
        var previousFrames: [Frame] = []
        for _ in 0..<n {
            let at = r.offset
            let id = nextID + (try r.uvarint())
            guard id >= nextID, id <= UInt32.max else {
                throw .corrupt(path: r.path, offset: at, detail: "stack id beyond 32 bits")
            }
            nextID = id + 1
            let head = try r.uvarint()
            let depth = head >> 1
            let definedEarlier = head & 1 != 0
            guard depth <= maximumDepth, !definedEarlier || depth == 0 else {
                throw .corrupt(
                    path: r.path, offset: at,
                    detail: definedEarlier
                        ? "stack \(id) has frames and says they were given earlier"
                        : "stack \(id) has \(depth) frames, more than \(maximumDepth)")
            }
            let liveBytes = try r.uvarint(), liveCount = try r.uvarint()
            let allocatedBytes = try r.uvarint(), allocatedCount = try r.uvarint()
            var frames: [Frame] = []
            if depth > 0 {
                let sharedAt = r.offset
                let shared = try r.uvarint()
                guard shared <= depth, shared <= previousFrames.count, Int(depth) <= frameBudget else {
                    throw .corrupt(
                        path: r.path, offset: sharedAt,
                        detail: "stack \(id) shares \(shared) frames with a stack of \(previousFrames.count)")
                }
                frameBudget -= Int(depth)
                frames.reserveCapacity(Int(depth))
                for _ in 0..<(depth - shared) {
                    let moduleAt = r.offset
                    let module = try r.uvarint()
                    if module > UInt32.max || moduleCount.map({ module > $0 }) == true {
                        let of = moduleCount.map { " of \($0)" } ?? ""
                        throw .corrupt(path: r.path, offset: moduleAt, detail: "frame refers to module \(module - 1)\(of)")
                    }
                    frames.append(Frame(module: module == 0 ? Frame.noModule : UInt32(module - 1), offset: try r.uvarint()))
                }
                frames += previousFrames.suffix(Int(shared))
                previousFrames = frames
            }
            var stack = CallStack(
                id: UInt32(id), frames: frames, liveBytes: liveBytes, liveCount: liveCount, allocatedBytes: allocatedBytes,
                allocatedCount: allocatedCount)
            stack.framesDefinedEarlier = definedEarlier
            stacks.append(stack)
        }
        return stacks
    }

    /// `stackIDs` are the stacks the entries may name, when the snapshot lists them all.
    private static func readMapped(_ r: inout ByteReader, stackIDs: Set<UInt32>?) throws(FormatError) -> [MappedStack] {
        let n = try r.count(minimumBytes: 40, what: "mapped stack")
        var mapped: [MappedStack] = []
        mapped.reserveCapacity(n)
        var seen: Set<UInt32> = []
        for _ in 0..<n {
            let at = r.offset
            let id = try r.u32()
            _ = try r.u32()
            guard stackIDs?.contains(id) ?? true else {
                throw .corrupt(path: r.path, offset: at, detail: "mapped memory of stack \(id), which is not in the stacks")
            }
            guard seen.insert(id).inserted else {
                throw .corrupt(path: r.path, offset: at, detail: "mapped memory of stack \(id) twice")
            }
            mapped.append(
                MappedStack(
                    stackID: id, liveBytes: try r.u64(), liveCount: try r.u64(), mappedBytes: try r.u64(),
                    mappedCount: try r.u64()))
        }
        return mapped
    }

    /// The first frame's id, strings, then frames referring to them by index: ids count from the first.
    private static func readSourceFrames(_ r: inout ByteReader) throws(FormatError) -> (UInt32, [SourceFrame]) {
        let firstAt = r.offset
        let first = try r.u32()
        guard first < 1 << 30 else { throw .corrupt(path: r.path, offset: firstAt, detail: "first source frame \(first)") }
        let stringCount = try r.count(minimumBytes: 4, what: "string")
        var strings: [String] = []
        strings.reserveCapacity(stringCount)
        for _ in 0..<stringCount { strings.append(try r.string(Int(try r.u32()))) }
        let n = try r.count(minimumBytes: 16, what: "source frame")
        var frames: [SourceFrame] = []
        frames.reserveCapacity(n)
        for _ in 0..<n {
            let at = r.offset
            let runtime = Int(try r.u32()), function = Int(try r.u32()), file = Int(try r.u32()), line = try r.u32()
            guard runtime < strings.count, function < strings.count, file < strings.count else {
                throw .corrupt(path: r.path, offset: at, detail: "source frame refers to a string beyond \(strings.count)")
            }
            frames.append(
                SourceFrame(
                    runtime: strings[runtime], function: strings[function],
                    file: strings[file].isEmpty ? nil : strings[file], line: line == 0 ? nil : Int(line)))
        }
        return (first, frames)
    }

    /// Attaches each stack's splices, checked against its native frames and the source frames.
    private static func readSplices(_ r: inout ByteReader, into stacks: inout [CallStack], sourceFrames: Int)
        throws(FormatError)
    {
        var position: [UInt32: Int] = [:]
        for (i, stack) in stacks.enumerated() { position[stack.id] = i }
        let n = try r.count(minimumBytes: 8, what: "spliced stack")
        var seen: Set<UInt32> = []
        for _ in 0..<n {
            let at = r.offset
            let id = try r.u32()
            guard let index = position[id], seen.insert(id).inserted else {
                throw .corrupt(path: r.path, offset: at, detail: "splices of stack \(id), which is not in the stacks or twice")
            }
            guard !stacks[index].framesDefinedEarlier else {
                throw .corrupt(path: r.path, offset: at, detail: "splices of stack \(id), whose frames were given earlier")
            }
            let natives = stacks[index].frames.count
            let count = try r.count(minimumBytes: 8, what: "splice")
            var splices: [SourceSplice] = []
            var end = 0
            for _ in 0..<count {
                let spliceAt = r.offset
                let nativeIndex = Int(try r.u16()), replaced = Int(try r.u16())
                let frames = try r.count(minimumBytes: 4, what: "source frame")
                guard nativeIndex >= end, nativeIndex + replaced <= natives else {
                    throw .corrupt(
                        path: r.path, offset: spliceAt,
                        detail: "splice of stack \(id) replaces frames \(nativeIndex)..<\(nativeIndex + replaced) of \(natives)")
                }
                var ids: [UInt32] = []
                ids.reserveCapacity(frames)
                for _ in 0..<frames {
                    let idAt = r.offset
                    let source = try r.u32()
                    guard Int(source) < sourceFrames else {
                        throw .corrupt(path: r.path, offset: idAt, detail: "source frame \(source) of \(sourceFrames)")
                    }
                    ids.append(source)
                }
                splices.append(SourceSplice(nativeIndex: nativeIndex, replacedCount: replaced, sourceFrames: ids))
                end = nativeIndex + replaced
            }
            stacks[index].splices = splices
        }
    }

    /// Reads a whole regular file with POSIX calls, so errors carry the system's reason.
    static func readFile(_ path: String) throws(FormatError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: systemError()) }
        defer { close(fd) }
        return try readBytes(fd, at: 0, count: try regularFileSize(fd, path: path), path: path)
    }

    private static func regularFileSize(_ fd: Int32, path: String) throws(FormatError) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: systemError()) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        return Int(info.st_size)
    }

    /// Up to `count` bytes at `offset` (fewer only when the file is shorter than it said).
    private static func readBytes(_ fd: Int32, at offset: Int, count: Int, path: String) throws(FormatError) -> [UInt8] {
        guard let bytes = readUpTo(count, from: fd, at: offset) else { throw .unreadable(path: path, reason: systemError()) }
        return bytes
    }
}

/// The current errno as text.
func systemError(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
