/// One snapshot of a traced process: who it is, its memory figures, its modules, and its live heap and
/// mappings by call stack.
public struct Snapshot: Sendable {
    /// Identity, timing and format information from the fixed header.
    public var header: SnapshotHeader
    /// The executable's path as the kernel reported it.
    public var executable: String
    /// The command line, one element per argument.
    public var commandLine: [String]
    /// Process memory figures (RSS, allocator view, tracked heap, the tracker's own memory).
    public var figures: ProcessFigures
    /// Every module loaded while the process ran, indexed by `Module.index`.
    public var modules: [Module]
    /// One entry per distinct call stack the tracker has seen.
    public var stacks: [CallStack]
    /// Mapped memory by call stack, for the stacks that ever held some; their ids are in `stacks`.
    public var mapped: [MappedStack]
    /// Frames a runtime named (Python functions and lines), with ids from `firstSourceFrame` on;
    /// stacks refer to them in their splices. A checkpoint gives all of them (from 0), a delta
    /// those named since the snapshot before it.
    public var sourceFrames: [SourceFrame]
    /// The id of `sourceFrames[0]`.
    public var firstSourceFrame: UInt32 = 0

    /// Creates a snapshot from its parts.
    public init(
        header: SnapshotHeader, executable: String, commandLine: [String], figures: ProcessFigures,
        modules: [Module], stacks: [CallStack], mapped: [MappedStack] = [], sourceFrames: [SourceFrame] = []
    ) {
        self.header = header
        self.executable = executable
        self.commandLine = commandLine
        self.figures = figures
        self.modules = modules
        self.stacks = stacks
        self.mapped = mapped
        self.sourceFrames = sourceFrames
    }

    /// The module a frame belongs to, if the frame has one.
    public func module(of frame: Frame) -> Module? {
        guard frame.module != Frame.noModule, Int(frame.module) < modules.count else { return nil }
        return modules[Int(frame.module)]
    }

    /// Seconds since the tracker started in this process image.
    public var elapsedSeconds: Double { header.elapsedSeconds }

    /// `later` as it reads without `earlier` before it: a delta then also carries what `earlier`
    /// changed (and the frames and modules it gave); a checkpoint needs nothing. When `earlier` is
    /// whole (a checkpoint, or itself combined up from one), so is the result.
    public static func combined(_ earlier: Snapshot, _ later: Snapshot) -> Snapshot {
        guard later.header.isDelta else { return later }
        var merged = later
        if !earlier.header.isDelta { merged.header.flags &= ~0x8 }  // the state as a whole: a checkpoint
        var stacks = Dictionary(earlier.stacks.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        for var stack in later.stacks {
            // Frames given by the earlier snapshot travel with the stack.
            if stack.framesDefinedEarlier, let given = stacks[stack.id], !given.framesDefinedEarlier {
                stack.frames = given.frames
                stack.splices = given.splices
                stack.framesDefinedEarlier = false
            }
            stacks[stack.id] = stack
        }
        merged.stacks = stacks.values.sorted { $0.id < $1.id }
        var modules = Dictionary(earlier.modules.map { ($0.index, $0) }, uniquingKeysWith: { $1 })
        for module in later.modules { modules[module.index] = module }
        merged.modules = modules.values.sorted { $0.index < $1.index }
        var mapped = Dictionary(earlier.mapped.map { ($0.stackID, $0) }, uniquingKeysWith: { $1 })
        for m in later.mapped { mapped[m.stackID] = m }
        merged.mapped = mapped.values.sorted { $0.stackID < $1.stackID }
        // Source frames only ever get new ids: the earlier ones, then those the later one adds.
        let earlierEnd = Int(earlier.firstSourceFrame) + earlier.sourceFrames.count
        if later.firstSourceFrame >= earlier.firstSourceFrame, Int(later.firstSourceFrame) <= earlierEnd {
            let kept = max(0, Int(later.firstSourceFrame) - Int(earlier.firstSourceFrame))
            merged.sourceFrames = Array(earlier.sourceFrames.prefix(kept)) + later.sourceFrames
            merged.firstSourceFrame = earlier.firstSourceFrame
        }
        return merged
    }

    /// Whether `other` was taken in the same process image, where stack ids identify the same stacks.
    public func isSameImage(as other: Snapshot) -> Bool {
        header.pid == other.header.pid && header.startMonotonicNanos == other.header.startMonotonicNanos
    }
}

/// Why the tracker took a snapshot.
public enum SnapshotReason: Sendable, Hashable, CustomStringConvertible {
    case interval, request, exit, exec, api, start
    case other(UInt32)

    /// Maps the format's reason code.
    public init(code: UInt32) {
        switch code {
        case 1: self = .interval
        case 2: self = .request
        case 3: self = .exit
        case 4: self = .exec
        case 5: self = .api
        case 6: self = .start
        default: self = .other(code)
        }
    }

    public var description: String {
        switch self {
        case .interval: "interval"
        case .request: "request"
        case .exit: "exit"
        case .exec: "exec"
        case .api: "api"
        case .start: "start"
        case .other(let code): "reason \(code)"
        }
    }
}

/// The fixed header of a snapshot file.
public struct SnapshotHeader: Sendable, Hashable {
    public var formatVersion: UInt32
    public var flags: UInt32
    public var reason: SnapshotReason
    public var pid: Int32
    public var parentPID: Int32
    /// 1 for the first snapshot of a process image, counting up.
    public var sequence: UInt64
    public var wallClockNanos: UInt64
    public var monotonicNanos: UInt64
    public var startWallClockNanos: UInt64
    public var startMonotonicNanos: UInt64
    public var intervalNanos: UInt64
    /// Mean bytes between samples; 0 when every allocation was recorded.
    public var sampleRate: UInt64
    public var maxDepth: UInt32

    /// Seconds since the tracker started in this process image.
    public var elapsedSeconds: Double { Double(monotonicNanos &- startMonotonicNanos) / 1e9 }

    /// True when the process was exiting or exec'ing when this was taken.
    public var isFinal: Bool { flags & 0x1 != 0 }
    /// True when per-stack figures are scaled estimates from sampling.
    public var isSampled: Bool { flags & 0x2 != 0 || sampleRate != 0 }
    /// True when memdrift wrote it from /proc, from outside the process: figures only, no heap, no stacks.
    public var isObserved: Bool { flags & 0x4 != 0 }
    /// True when it carries only what changed since the previous snapshot of its series (format 2):
    /// the stacks whose counters changed, the modules added or unloaded. Otherwise it is a checkpoint:
    /// every module, and every stack that holds or held anything.
    public var isDelta: Bool { flags & 0x8 != 0 }

    /// Creates a header; the defaults describe an exact-mode interval snapshot.
    public init(
        formatVersion: UInt32 = SnapshotFormat.version, flags: UInt32 = 0, reason: SnapshotReason = .interval,
        pid: Int32, parentPID: Int32 = 1, sequence: UInt64, wallClockNanos: UInt64, monotonicNanos: UInt64,
        startWallClockNanos: UInt64, startMonotonicNanos: UInt64, intervalNanos: UInt64, sampleRate: UInt64 = 0,
        maxDepth: UInt32 = 64
    ) {
        self.formatVersion = formatVersion
        self.flags = flags
        self.reason = reason
        self.pid = pid
        self.parentPID = parentPID
        self.sequence = sequence
        self.wallClockNanos = wallClockNanos
        self.monotonicNanos = monotonicNanos
        self.startWallClockNanos = startWallClockNanos
        self.startMonotonicNanos = startMonotonicNanos
        self.intervalNanos = intervalNanos
        self.sampleRate = sampleRate
        self.maxDepth = maxDepth
    }
}

/// A loaded (or since unloaded) module: the main program, a shared library, the vDSO.
public struct Module: Sendable, Hashable {
    /// Position in the snapshot's module list; frames refer to modules by it.
    public var index: UInt32
    /// Whether the module was still loaded when the snapshot was taken.
    public var isLoaded: Bool
    /// Load bias: an address minus `base` is the module's ELF virtual address.
    public var base: UInt64
    public var start: UInt64
    public var end: UInt64
    public var buildID: [UInt8]
    public var path: String

    /// Creates a module record.
    public init(index: UInt32, isLoaded: Bool = true, base: UInt64, start: UInt64, end: UInt64, buildID: [UInt8], path: String) {
        self.index = index
        self.isLoaded = isLoaded
        self.base = base
        self.start = start
        self.end = end
        self.buildID = buildID
        self.path = path
    }

    /// The file name without directories, as reports show it.
    public var name: String {
        guard let slash = path.lastIndex(of: "/") else { return path.isEmpty ? "[unknown]" : path }
        return String(path[path.index(after: slash)...])
    }

    /// The build-id as lowercase hex.
    public var buildIDHex: String { hexString(buildID) }
}

/// A return address relative to its module.
public struct Frame: Sendable, Hashable {
    /// The module index meaning "no module": `offset` is then an absolute address.
    public static let noModule: UInt32 = 0xFFFF_FFFF
    public var module: UInt32
    /// Module-relative (ELF virtual) return address.
    public var offset: UInt64

    /// Creates a frame.
    public init(module: UInt32, offset: UInt64) {
        self.module = module
        self.offset = offset
    }
}

/// A distinct call stack and what it allocated.
public struct CallStack: Sendable, Hashable {
    /// Stable within one process image (a fork child keeps its parent's ids).
    public var id: UInt32
    /// The native frames, leaf first: frames[0] called the allocator. Empty when `framesDefinedEarlier`.
    public var frames: [Frame]
    /// Where source frames (a Python program's functions and lines) go among the native frames,
    /// in ascending `nativeIndex`; empty for a stack without any, and when `framesDefinedEarlier`.
    public var splices: [SourceSplice]
    /// The frames (and splices) were given by an earlier snapshot of the series (format 2): stack
    /// ids do not change meaning within a process image, so they are written once.
    public var framesDefinedEarlier = false
    public var liveBytes: UInt64
    public var liveCount: UInt64
    /// Cumulative since the tracker started.
    public var allocatedBytes: UInt64
    public var allocatedCount: UInt64

    /// Creates a stack record.
    public init(
        id: UInt32, frames: [Frame], splices: [SourceSplice] = [], liveBytes: UInt64, liveCount: UInt64,
        allocatedBytes: UInt64, allocatedCount: UInt64
    ) {
        self.id = id
        self.frames = frames
        self.splices = splices
        self.liveBytes = liveBytes
        self.liveCount = liveCount
        self.allocatedBytes = allocatedBytes
        self.allocatedCount = allocatedCount
    }

    /// The stack's frames leaf first, native and source interleaved: each splice's source frames
    /// take the place of the native frames it replaces.
    public func interleaved<T>(native: (Frame) -> T, source: (UInt32) -> T) -> [T] {
        var out: [T] = []
        out.reserveCapacity(frames.count + splices.reduce(0) { $0 + $1.sourceFrames.count })
        var next = 0
        for splice in splices {
            let at = min(max(splice.nativeIndex, next), frames.count)
            out += frames[next..<at].map(native)
            out += splice.sourceFrames.map(source)
            next = min(at + splice.replacedCount, frames.count)
        }
        out += frames[next...].map(native)
        return out
    }
}

/// Source frames standing in for native frames of a stack: a Python evaluation frame of the
/// interpreter is replaced by the Python frames it ran.
public struct SourceSplice: Sendable, Hashable {
    /// The first native frame replaced (an index into `CallStack.frames`); `frames.count` appends.
    public var nativeIndex: Int
    /// How many native frames the source frames replace; 0 inserts them before `nativeIndex`.
    public var replacedCount: Int
    /// Ids into `Snapshot.sourceFrames`, leaf first.
    public var sourceFrames: [UInt32]

    /// Creates a splice.
    public init(nativeIndex: Int, replacedCount: Int, sourceFrames: [UInt32]) {
        self.nativeIndex = nativeIndex
        self.replacedCount = replacedCount
        self.sourceFrames = sourceFrames
    }
}

/// Lowercase hex of bytes, two digits each.
public func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var s = ""
    s.reserveCapacity(bytes.count * 2)
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 0xF)])
    }
    return s
}
