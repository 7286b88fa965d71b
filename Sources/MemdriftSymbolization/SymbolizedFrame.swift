/// One symbolized frame (possibly an inlined one).
public struct SymbolizedFrame: Sendable, Hashable, Codable {
    /// Demangled, simplified function name; nil when unknown.
    public var function: String?
    /// The symbol as in the ELF file (mangled).
    public var rawSymbol: String?
    /// Source path as DWARF has it.
    public var file: String?
    /// Source line, nil when DWARF has none (or line 0, which means "compiler generated").
    public var line: Int?
    /// Source column, nil when DWARF has none.
    public var column: Int?
    /// Basename of the module path.
    public var module: String
    /// Path of the module as given by the caller.
    public var modulePath: String
    /// Module-relative ELF virtual address that was looked up, as the caller gave it.
    public var address: UInt64
    /// True for frames that libdw reports as inlined into the next one.
    public var isInlined: Bool
    /// Why information is missing, e.g. "module missing", "build-id mismatch", "no symbol".
    public var note: String?
    /// The runtime that named a source frame (`python`, `js`, `go`, `erlang`, `jit`); nil for native code.
    public var runtime: String?

    /// Creates a frame; everything but the module and address is optional.
    public init(
        function: String? = nil,
        rawSymbol: String? = nil,
        file: String? = nil,
        line: Int? = nil,
        column: Int? = nil,
        modulePath: String,
        address: UInt64,
        isInlined: Bool = false,
        note: String? = nil,
        runtime: String? = nil
    ) {
        self.function = function
        self.rawSymbol = rawSymbol
        self.file = file
        self.line = line
        self.column = column
        self.module = baseName(of: modulePath)
        self.modulePath = modulePath
        self.address = address
        self.isInlined = isInlined
        self.note = note
        self.runtime = runtime
    }
}

/// The last path component, or the whole string when it has no slash.
func baseName(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    let rest = path[path.index(after: slash)...]
    return rest.isEmpty ? path : String(rest)
}

/// Everything before the last slash ("." when there is none).
func directoryName(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}
