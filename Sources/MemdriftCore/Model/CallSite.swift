/// The identity of a module file across processes and runs: its GNU build-id, or its path when it has none.
///
/// Two modules are the same module when their build-ids match, wherever they were loaded; a module
/// without a build-id matches only the same path without one.
public struct ModuleIdentity: Sendable, Hashable, Comparable {
    /// The module's path as the process saw it ("" when no module held the address).
    public let path: String
    /// The `NT_GNU_BUILD_ID` note; empty when the module has none.
    public let buildID: [UInt8]

    /// Creates a module identity.
    public init(path: String, buildID: [UInt8]) {
        self.path = path
        self.buildID = buildID
    }

    /// The identity of "no module": a frame's offset is then an absolute address.
    public static let unknown = ModuleIdentity(path: "", buildID: [])

    /// The file name without directories, as reports show it.
    public var name: String {
        guard let slash = path.lastIndex(of: "/") else { return path.isEmpty ? "[unknown]" : path }
        return String(path[path.index(after: slash)...])
    }

    public static func == (a: ModuleIdentity, b: ModuleIdentity) -> Bool {
        a.buildID.isEmpty && b.buildID.isEmpty ? a.path == b.path : a.buildID == b.buildID
    }

    public func hash(into hasher: inout Hasher) {
        if buildID.isEmpty { hasher.combine(path) } else { hasher.combine(buildID) }
    }

    public static func < (a: ModuleIdentity, b: ModuleIdentity) -> Bool {
        (a.buildID.isEmpty ? a.path : hexString(a.buildID)) < (b.buildID.isEmpty ? b.path : hexString(b.buildID))
    }
}

/// A return address in native code, relative to its module; named later by the symbolizer.
public struct NativeFrame: Sendable, Hashable {
    public var module: ModuleIdentity
    /// Module-relative (ELF virtual) return address; the absolute address when the module is unknown.
    public var offset: UInt64

    /// Creates a native frame.
    public init(module: ModuleIdentity, offset: UInt64) {
        self.module = module
        self.offset = offset
    }
}

/// A frame a runtime has already named: a Python, Go, JavaScript or Erlang function, or JIT code
/// named by a perf map.
public struct SourceFrame: Sendable, Hashable, Codable {
    /// Who named it: `python`, `go`, `js`, `erlang`, `jit`.
    public var runtime: String
    /// The function as the runtime names it, qualified where the runtime qualifies it.
    public var function: String
    /// The source file, when the runtime knows it.
    public var file: String?
    /// The line in `file` (1-based), when known.
    public var line: Int?

    /// Creates a source frame.
    public init(runtime: String, function: String, file: String? = nil, line: Int? = nil) {
        self.runtime = runtime
        self.function = function
        self.file = file
        self.line = line
    }

    /// A source frame whose name was in a snapshot that could not be read.
    public static let unknown = SourceFrame(runtime: "python", function: "(unknown)")
}

/// One frame of a call site.
public enum CallFrame: Sendable, Hashable {
    case native(NativeFrame)
    case source(SourceFrame)
}

/// A call site: the frames of a stack that allocated, leaf first.
///
/// This is the one rule for "the same call site" across snapshots, processes and runs: equal
/// frames, where native frames compare by module identity (build-id) and offset and source frames
/// by runtime, function, file and line.
public struct CallSite: Sendable, Hashable {
    /// Leaf first: frames[0] asked for the memory.
    public var frames: [CallFrame]

    /// Creates a call site from its frames, leaf first.
    public init(frames: [CallFrame]) { self.frames = frames }

    /// The empty stack: unwinding failed, or the tracker's table was full.
    public static let unknown = CallSite(frames: [])
}
