import MemdriftCore

/// Allocator and runtime frames that reports fold away so the first frame shown is the code that asked for memory.
public enum AllocatorFrames {
    /// The C allocation API, its glibc entry points and glibc's internal workers.
    static let mallocFamily: Set<String> = [
        "malloc", "calloc", "realloc", "reallocarray", "free", "cfree", "posix_memalign", "aligned_alloc",
        "memalign", "valloc", "pvalloc", "malloc_usable_size",
        "__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_reallocarray", "__libc_free",
        "__libc_memalign", "__libc_valloc", "__libc_pvalloc", "__libc_aligned_alloc", "__posix_memalign",
        "_int_malloc", "_int_realloc", "_int_free", "_int_memalign", "sysmalloc", "tcache_init",
        "malloc_hook_ini", "realloc_hook_ini", "memalign_hook_ini", "_mid_memalign",
    ]

    /// CPython's allocator entry points that are not covered by a prefix rule.
    static let pythonAllocators: Set<String> = [
        "PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc", "PyObject_Free",
        "new_arena", "allocate_from_new_pool", "gc_alloc",
    ]

    static let pythonPrefixes = ["PyMem_", "_PyMem_", "_PyObject_", "pymalloc_"]

    /// The Erlang runtime's allocators: carriers (mseg), allocator instances (alcu) and the mmap under them.
    static let erlangAllocatorPrefixes = [
        "erts_mmap", "erts_munmap", "erts_mseg_", "erts_alcu_", "erts_alloc", "erts_realloc", "erts_sys_alloc",
    ]

    /// libc functions that only copy into fresh memory; the caller is the one that wanted it.
    static let libcCopyingAllocators: Set<String> = ["strdup", "strndup", "wcsdup", "__strdup", "__strndup"]

    /// Swift runtime entry points (`swift_allocObject`, `swift_slowAlloc`, `swift_retain`, …) and runtime C++ internals.
    static let swiftRuntimePrefixes = ["swift_", "_swift_", "swift::"]

    /// Standard-library storage types whose methods only grow or allocate buffers on behalf of the caller.
    static let swiftStorageTypes = [
        "Swift._ContiguousArrayBuffer", "Swift._ArrayBuffer", "Swift._ContiguousArrayStorage", "Swift._SliceBuffer",
        "Swift._StringGuts", "Swift._StringObject", "Swift.__StringStorage", "Swift.__SharedStringStorage",
        "Swift._NativeDictionary", "Swift._DictionaryStorage", "Swift.__RawDictionaryStorage",
        "Swift._NativeSet", "Swift._SetStorage", "Swift.__RawSetStorage", "Swift._HashTable",
        "Swift.ManagedBuffer", "Swift._allocateUninitializedArray", "Swift._finalizeUninitializedArray",
        "Swift._copyCollectionToContiguousArray", "Swift._copySequenceToContiguousArray",
    ]

    /// Public collection types whose underscored members are growth internals (`Swift.Array._createNewBuffer`).
    static let swiftCollectionTypes = [
        "Swift.Array.", "Swift.ContiguousArray.", "Swift.ArraySlice.", "Swift.String.",
        "Swift.Dictionary.", "Swift.Set.",
    ]

    /// libstdc++/libc++ allocator plumbing that precedes `operator new`.
    static let cxxAllocatorPrefixes = [
        "std::allocator<", "std::allocator_traits<", "std::__new_allocator<", "std::__allocated_ptr",
        "__gnu_cxx::new_allocator<", "__gnu_cxx::__alloc_traits<", "std::__allocate_guarded",
    ]

    /// Go functions that only allocate or grow memory on behalf of their caller, besides the whole
    /// `runtime.` package (mallocgc, newobject, makeslice, growslice, mapassign*, rawstring, ...).
    static let goAllocators: Set<String> = ["internal/bytealg.MakeNoZero", "bytes.growSlice"]

    /// Go types whose methods grow a buffer for the caller (`strings.(*Builder).grow`, `bytes.(*Buffer).WriteString`).
    static let goBufferTypes = ["strings.(*Builder).", "bytes.(*Buffer)."]

    /// True for allocator, container-growth and runtime frames; frames without a function name never are.
    public static func isAllocatorOrRuntime(_ frame: SymbolizedFrame) -> Bool {
        guard let function = frame.function, !function.isEmpty else { return false }
        let module = frame.module
        // Source frames named by Go's own profiler (StackSymbolizer makes the runtime's name their module).
        if frame.runtime == "go" || module == "go" { return isGoAllocatorOrRuntime(function) }
        if module.hasPrefix("libmemdrift") { return true }
        let name = baseSymbolName(function)
        if mallocFamily.contains(name) || name.hasPrefix("__libc_") { return true }
        if isLibcModule(module), name.hasPrefix("_") || libcCopyingAllocators.contains(name) { return true }
        if isCxxAllocator(function) { return true }
        if isSwiftRuntimeOrStorage(function) { return true }
        if pythonAllocators.contains(name) || pythonPrefixes.contains(where: name.hasPrefix) { return true }
        if erlangAllocatorPrefixes.contains(where: name.hasPrefix) { return true }
        return false
    }

    /// Drops leading allocator/runtime frames (leaf-first order); keeps everything if all would be dropped.
    ///
    /// In a stripped binary the allocator's own static functions have no name: an unnamed frame of
    /// the same module between two allocator frames is part of the allocator too.
    public static func trimmingLeadingAllocatorFrames(_ frames: [SymbolizedFrame]) -> [SymbolizedFrame] {
        var end = 0
        var i = 0
        while i < frames.count {
            if isAllocatorOrRuntime(frames[i]) {
                i += 1
                end = i
            } else if frames[i].function == nil, end > 0, frames[i].modulePath == frames[end - 1].modulePath {
                i += 1
            } else {
                break
            }
        }
        return end == 0 || end == frames.count ? frames : Array(frames[end...])
    }

    /// Drops a runtime's own frames in front of the code that asked it for memory: when a call site
    /// holds a source frame of user code (a Python line, a JavaScript function), the native frames of
    /// the interpreter's own module (node, python3.11, beam.smp), code no module holds (JIT
    /// builtins) and the runtime's internal source frames (`node:internal/...`) before it are folded
    /// away. A frame of another module (a C extension, a native addon) stops the folding: it is
    /// user code too, shown with the source line that called it.
    public static func trimmingLeadingRuntimeFrames(_ frames: [SymbolizedFrame]) -> [SymbolizedFrame] {
        guard let user = frames.firstIndex(where: { $0.runtime != nil && !isRuntimeSource($0) }) else { return frames }
        let runtimeModule = frames[..<user].last { $0.runtime == nil && $0.note != "no module" }?.modulePath
        var first = 0
        while first < user {
            let f = frames[first]
            guard f.runtime != nil || f.note == "no module" || f.modulePath == runtimeModule else { break }
            first += 1
        }
        return Array(frames[first...])
    }

    /// A runtime's own source: node's built-in modules and V8's builtins.
    static func isRuntimeSource(_ frame: SymbolizedFrame) -> Bool {
        // BEAM's shared code fragments (BIF calls, scheduling) are the emulator's, not the program's.
        if frame.runtime == "erlang" { return frame.function?.hasPrefix("global::") ?? false }
        guard frame.runtime == "js" else { return false }
        return JSHeapSamples.isRuntimeFrame(SourceFrame(runtime: "js", function: frame.function ?? "", file: frame.file))
    }

    /// The Go runtime, and library code that allocates only because its caller asked for memory.
    static func isGoAllocatorOrRuntime(_ function: String) -> Bool {
        function.hasPrefix("runtime.") || goAllocators.contains(function) || goBufferTypes.contains(where: function.hasPrefix)
    }

    /// glibc's C library and dynamic loader, whose `_`-prefixed frames are internal plumbing.
    static func isLibcModule(_ module: String) -> Bool {
        module.hasPrefix("libc.so") || module.hasPrefix("libc-") || module.hasPrefix("ld-linux")
            || module.hasPrefix("ld-") || module == "ld.so"
    }

    /// Suffixes GCC appends to partial copies of a function (`malloc.cold`, `free.part.0`).
    static let gccCloneSuffixes = ["cold", "isra", "part", "constprop", "lto_priv", "localalias"]

    /// `strdup@plt`, `malloc.cold` and `free [clone .isra.0]` name the same function.
    static func baseSymbolName(_ function: String) -> String {
        var end = function.endIndex
        if let at = function.firstIndex(of: "@"), at != function.startIndex { end = min(end, at) }
        if let space = function.firstIndex(of: " "), space != function.startIndex { end = min(end, space) }
        if let dot = function.dropFirst().firstIndex(of: ".") {
            let suffix = function[function.index(after: dot)...]
            if gccCloneSuffixes.contains(where: suffix.hasPrefix) { end = min(end, dot) }
        }
        return String(function[..<end])
    }

    private static func isCxxAllocator(_ function: String) -> Bool {
        if function.hasPrefix("operator new") || function.hasPrefix("operator delete") { return true }
        // libstdc++ nests everything in inline namespaces; libc++ in std::__1. Neither changes what the frame means.
        let name = function.replacingAll("std::__cxx11::", with: "std::").replacingAll("std::__1::", with: "std::")
        let entity = cxxEntityName(name)
        if cxxAllocatorPrefixes.contains(where: entity.hasPrefix) { return true }
        guard entity.hasPrefix("std::") || entity.hasPrefix("__gnu_cxx::") else { return false }
        // Reserved names (`std::__uninitialized_copy`, `_M_create`, `_S_allocate`) are library internals;
        // only the entity's own path counts, not its template or argument types.
        let qualified = withoutTemplateArguments(entity)
        if qualified.hasPrefix("std::__") || qualified.hasPrefix("__gnu_cxx::__") { return true }
        let last = lastComponent(qualified)
        return last.hasPrefix("_M_") || last.hasPrefix("_S_") || last.hasPrefix("__")
    }

    /// The demangled entity without a leading return type (`void `) and without the parameter list.
    static func cxxEntityName(_ name: String) -> Substring {
        var depth = 0
        var start = name.startIndex
        var index = name.startIndex
        var previous: Character = " "
        while index < name.endIndex {
            let character = name[index]
            switch character {
            case "<":
                depth += 1
            case ">" where previous != "-":
                depth = max(0, depth - 1)
            case "(" where depth == 0:
                return name[start..<index]
            case " " where depth == 0:
                start = name.index(after: index)
            default:
                break
            }
            previous = character
            index = name.index(after: index)
        }
        return name[start...]
    }

    /// `std::vector<int>::_M_realloc_insert<int const&>` becomes `std::vector::_M_realloc_insert`.
    static func withoutTemplateArguments(_ name: Substring) -> String {
        var result = ""
        var depth = 0
        var previous: Character = " "
        for character in name {
            if character == "<" {
                depth += 1
            } else if character == ">" && depth > 0 && previous != "-" {
                depth -= 1
            } else if depth == 0 {
                result.append(character)
            }
            previous = character
        }
        return result
    }

    private static func lastComponent(_ qualified: String) -> Substring {
        guard let separator = qualified.ranges(of: "::").last else { return Substring(qualified) }
        return qualified[separator.upperBound...]
    }

    /// `generic specialization <Int> of Swift.Array._createNewBuffer(...)` is still `Swift.Array._createNewBuffer`.
    static func withoutSwiftSpecialization(_ name: Substring) -> Substring {
        for prefix in ["generic specialization <", "generic pre-specialization <"] where name.hasPrefix(prefix) {
            var depth = 1
            var index = name.index(name.startIndex, offsetBy: prefix.count)
            while index < name.endIndex && depth > 0 {
                if name[index] == "<" { depth += 1 } else if name[index] == ">" { depth -= 1 }
                index = name.index(after: index)
            }
            let rest = name[index...]
            return rest.hasPrefix(" of ") ? rest.dropFirst(4) : name
        }
        return name
    }

    private static func isSwiftRuntimeOrStorage(_ function: String) -> Bool {
        if swiftRuntimePrefixes.contains(where: function.hasPrefix) { return true }
        var name = withoutSwiftSpecialization(Substring(function))
        for prefix in ["specialized ", "merged ", "partial apply for "] where name.hasPrefix(prefix) {
            name = name.dropFirst(prefix.count)
        }
        if name.hasPrefix("static ") { name = name.dropFirst("static ".count) }
        if swiftStorageTypes.contains(where: { name.hasPrefix($0) }) { return true }
        for type in swiftCollectionTypes where name.hasPrefix(type) {
            let member = name.dropFirst(type.count)
            if member.hasPrefix("_") { return true }
        }
        return false
    }
}

extension String {
    /// Every occurrence of `target` replaced; avoids depending on Foundation for one call.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard contains(target) else { return self }
        return replacing(target, with: replacement)
    }
}
