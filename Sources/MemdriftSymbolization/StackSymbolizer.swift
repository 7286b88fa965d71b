import MemdriftCore

/// Names the frames of call sites, folding allocator and runtime frames away unless asked not to.
public final class StackSymbolizer: Sendable {
    public let symbolizer: Symbolizer
    /// Keep allocator, runtime and tracker frames (`--full-stacks`).
    public let fullStacks: Bool

    /// Creates a stack symbolizer over `symbolizer` (which caches per module).
    public init(symbolizer: Symbolizer = Symbolizer(), fullStacks: Bool = false) {
        self.symbolizer = symbolizer
        self.fullStacks = fullStacks
    }

    /// One frame as symbolized frames: for native code, inlined ones first, then the containing function.
    public func symbolize(_ frame: CallFrame) -> [SymbolizedFrame] {
        switch frame {
        case .source(let f):
            return [
                SymbolizedFrame(
                    function: f.function, file: f.file, line: f.line, modulePath: f.runtime, address: 0, runtime: f.runtime)
            ]
        case .native(let f):
            guard f.module != .unknown else {
                return [SymbolizedFrame(modulePath: "[unknown]", address: f.offset, note: "no module")]
            }
            guard f.module.path.hasPrefix("/") else {
                // The vDSO and anonymous code have no file to read symbols from.
                return [SymbolizedFrame(modulePath: f.module.path, address: f.offset, note: "no file")]
            }
            return symbolizer.symbolize(modulePath: f.module.path, buildID: f.module.buildID, address: f.offset)
        }
    }

    /// A call site's frames, leaf first, with inlined frames expanded and (unless keeping full
    /// stacks) leading allocator and runtime frames folded away.
    public func frames(of site: CallSite) -> [SymbolizedFrame] {
        let all = site.frames.flatMap(symbolize)
        return fullStacks
            ? all : AllocatorFrames.trimmingLeadingRuntimeFrames(AllocatorFrames.trimmingLeadingAllocatorFrames(all))
    }
}

extension SymbolizedFrame {
    /// `function (file:line)` for reports; `module+0xaddress (note)` when no name is known.
    public var displayName: String {
        guard let function else {
            let place = "\(module)+0x\(String(address, radix: 16))"
            return note.map { "\(place) (\($0))" } ?? place
        }
        let inlined = isInlined ? " [inlined]" : ""
        guard let file else { return "\(function) (\(module))\(inlined)" }
        let name = file.split(separator: "/").last.map(String.init) ?? file
        return "\(function) (\(name)\(line.map { ":\($0)" } ?? ""))\(inlined)"
    }
}
