import MemdriftCore

/// Names the frames of recorded stacks, folding allocator and runtime frames away unless asked not to.
public final class StackSymbolizer: Sendable {
    public let symbolizer: Symbolizer
    /// Keep allocator, runtime and tracker frames (`--full-stacks`).
    public let fullStacks: Bool

    /// Creates a stack symbolizer over `symbolizer` (which caches per module).
    public init(symbolizer: Symbolizer = Symbolizer(), fullStacks: Bool = false) {
        self.symbolizer = symbolizer
        self.fullStacks = fullStacks
    }

    /// One recorded frame as symbolized frames: inlined ones first, then the containing function.
    public func symbolize(_ frame: Frame, in snapshot: Snapshot) -> [SymbolizedFrame] {
        guard let module = snapshot.module(of: frame) else {
            return [SymbolizedFrame(modulePath: "[unknown]", address: frame.offset, note: "no module")]
        }
        guard module.path.hasPrefix("/") else {
            // The vDSO and anonymous code have no file to read symbols from.
            return [SymbolizedFrame(modulePath: module.path, address: frame.offset, note: "no file")]
        }
        return symbolizer.symbolize(modulePath: module.path, buildID: module.buildID, address: frame.offset)
    }

    /// A stack's frames, leaf first, with inlined frames expanded.
    public func frames(of stack: CallStack, in snapshot: Snapshot) -> [SymbolizedFrame] {
        let all = stack.frames.flatMap { symbolize($0, in: snapshot) }
        return fullStacks ? all : AllocatorFrames.trimmingLeadingAllocatorFrames(all)
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
