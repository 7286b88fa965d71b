import Synchronization

/// Resolves module-relative addresses to functions and source lines, with one cache per module.
public final class Symbolizer: Sendable {
    /// What a module path resolved to the first time it was asked for.
    private enum ModuleEntry {
        case loaded(ModuleImage)
        case failed(ModuleLoadError)
    }

    /// Identifies one lookup; return addresses and exact addresses of the same value resolve differently.
    private struct LookupKey: Hashable {
        var modulePath: String
        var address: UInt64
        var isReturnAddress: Bool
    }

    /// Everything cached; libelf/libdw handles are not thread-safe, so all of it sits behind one lock.
    private struct State {
        var modules: [String: ModuleEntry] = [:]
        var results: [LookupKey: [SymbolizedFrame]] = [:]
        /// Stripped modules, without a debug file, that left frames unnamed.
        var unnamedIn: Set<String> = []
    }

    static let buildIDMismatchNote = "build-id mismatch (module replaced since the run)"

    private let debugDirectories: [String]
    private let state = Mutex(State())

    /// Creates a symbolizer that looks for separate debug files under `debugDirectories`.
    public init(debugDirectories: [String] = ["/usr/lib/debug"]) {
        self.debugDirectories = debugDirectories
    }

    /// `address` is an ELF virtual address inside the module (the load bias already removed).
    /// For return addresses (`isReturnAddress`, the default) `address - 1` is looked up so the call itself is found;
    /// frames still report `address` as given. Returns innermost frame first: inlined frames, then the containing function.
    public func symbolize(modulePath: String, buildID: [UInt8], address: UInt64, isReturnAddress: Bool = true)
        -> [SymbolizedFrame]
    {
        let debugDirectories = self.debugDirectories
        return state.withLock { state -> [SymbolizedFrame] in
            let entry: ModuleEntry
            if let cached = state.modules[modulePath] {
                entry = cached
            } else {
                do throws(ModuleLoadError) {
                    entry = .loaded(try ModuleImage(path: modulePath, debugDirectories: debugDirectories))
                } catch {
                    entry = .failed(error)
                }
                state.modules[modulePath] = entry
            }
            switch entry {
            case .failed(let error):
                return [SymbolizedFrame(modulePath: modulePath, address: address, note: error.note)]
            case .loaded(let image):
                if !buildID.isEmpty, image.buildID != buildID {
                    return [SymbolizedFrame(modulePath: modulePath, address: address, note: Self.buildIDMismatchNote)]
                }
                let key = LookupKey(modulePath: modulePath, address: address, isReturnAddress: isReturnAddress)
                if let cached = state.results[key] { return cached }
                let lookup = isReturnAddress && address > 0 ? address - 1 : address
                var frames = image.symbolize(lookup)
                for index in frames.indices {
                    frames[index].address = address
                }
                if image.lacksSymbols && frames.contains(where: { $0.function == nil }) { state.unnamedIn.insert(modulePath) }
                state.results[key] = frames
                return frames
            }
        }
    }

    /// Where symbols and line information for a module come from (symbol table, debug file, DWARF units); for diagnostics.
    public func describeSources(modulePath: String) -> String {
        _ = symbolize(modulePath: modulePath, buildID: [], address: 0, isReturnAddress: false)
        return state.withLock { state -> String in
            switch state.modules[modulePath] {
            case .loaded(let image)?: return image.sourcesDescription
            case .failed(let error)?: return error.note
            case nil: return ""
            }
        }
    }

    /// Stripped modules without a debug file whose frames could not all be named, sorted.
    public var modulesWithoutSymbols: [String] { state.withLock { $0.unnamedIn.sorted() } }

    /// The GNU build-id of a module file, or nil when it has none or cannot be read.
    public static func buildID(ofModuleAt path: String) -> [UInt8]? {
        (try? ElfFile(path: path))?.buildID
    }
}
