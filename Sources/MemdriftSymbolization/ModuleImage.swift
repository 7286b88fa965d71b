import CElfDwarf

/// One module on disk with its lazily loaded symbol table, debug file and DWARF index.
final class ModuleImage {
    let path: String
    let file: ElfFile
    private let debugDirectories: [String]

    private lazy var debugFile: ElfFile? = findDebugFile()
    private lazy var symbols: SymbolTable? = loadSymbols()
    private lazy var dwarfIndex: DwarfIndex? = loadDwarf()
    /// Many addresses share a function; demangling (especially Swift's) costs more than the lookup itself.
    private var demangled: [String: String] = [:]

    /// Opens `path`; throws when the file is missing or not a usable ELF file.
    init(path: String, debugDirectories: [String]) throws(ModuleLoadError) {
        self.path = path
        self.file = try ElfFile(path: path)
        self.debugDirectories = debugDirectories
    }

    /// The module's GNU build-id, if it has one.
    var buildID: [UInt8]? { file.buildID }

    /// Stripped, with no debug file found: only exported functions (.dynsym) can be named.
    var lacksSymbols: Bool { symbols?.kind != .symtab && dwarfIndex == nil }

    /// Frames for the ELF virtual address `pc`, innermost first; `address` of each frame is `pc`.
    func symbolize(_ pc: UInt64) -> [SymbolizedFrame] {
        let symbol = symbols?.lookup(pc)
        var frames = (dwarfIndex?.frames(at: pc) ?? []).map { frame in
            SymbolizedFrame(
                function: frame.linkageName.map(demangle) ?? frame.name,
                rawSymbol: frame.linkageName,
                file: frame.location.file,
                line: frame.location.line,
                column: frame.location.column,
                modulePath: path,
                address: pc,
                isInlined: frame.isInlined
            )
        }
        if frames.isEmpty {
            frames = [SymbolizedFrame(modulePath: path, address: pc)]
        }
        // The symbol table is authoritative for the out-of-line function; DWARF can be partial.
        if let symbol, let last = frames.indices.last {
            frames[last].function = demangle(symbol.name)
            frames[last].rawSymbol = symbol.name
        }
        for index in frames.indices where frames[index].function == nil {
            frames[index].note = "no symbol"
        }
        return frames
    }

    /// Describes where symbols and lines come from, for diagnostics.
    var sourcesDescription: String {
        var parts: [String] = []
        if let symbols {
            parts.append(
                "\(symbols.kind == .symtab ? ".symtab" : ".dynsym") of \(symbols.file.path) (\(symbols.count) functions)")
        }
        if let debugFile { parts.append("debug file \(debugFile.path)") }
        if let dwarfIndex { parts.append("DWARF with \(dwarfIndex.unitCount) units") }
        return parts.joined(separator: ", ")
    }

    private func demangle(_ symbol: String) -> String {
        if let cached = demangled[symbol] { return cached }
        let name = Demangler.demangle(symbol)
        demangled[symbol] = name
        return name
    }

    private func loadSymbols() -> SymbolTable? {
        if let own = SymbolTable(file: file, kind: .symtab) { return own }
        if let debugFile, let separate = SymbolTable(file: debugFile, kind: .symtab) { return separate }
        return SymbolTable(file: file, kind: .dynsym)
    }

    private func loadDwarf() -> DwarfIndex? {
        if file.hasDebugInfo, let own = DwarfIndex(file: file) { return own }
        if let debugFile, debugFile.hasDebugInfo { return DwarfIndex(file: debugFile) }
        return nil
    }

    private func findDebugFile() -> ElfFile? {
        for candidate in debugFileCandidates() {
            guard let debug = try? ElfFile(path: candidate), debug.identity != file.identity else { continue }
            // A stale debug file describes different code; using it would produce wrong names.
            if let expected = file.buildID, let actual = debug.buildID, expected != actual { continue }
            return debug
        }
        return nil
    }

    private func debugFileCandidates() -> [String] {
        var candidates: [String] = []
        if let buildID = file.buildID, buildID.count >= 2 {
            let hex = buildID.hexString
            let directory = String(hex.prefix(2))
            let rest = String(hex.dropFirst(2))
            for root in debugDirectories {
                candidates.append("\(root)/.build-id/\(directory)/\(rest).debug")
            }
        }
        if let link = file.debugLink {
            let directory = directoryName(of: path)
            candidates.append("\(directory)/\(link)")
            candidates.append("\(directory)/.debug/\(link)")
            if directory.hasPrefix("/") {
                for root in debugDirectories {
                    candidates.append("\(root)\(directory)/\(link)")
                }
            }
        }
        return candidates
    }
}
