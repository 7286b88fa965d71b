import MemdriftCore
import Testing

@testable import MemdriftSymbolization

@Suite("AllocatorFrames")
struct AllocatorFramesTests {
    private func frame(_ function: String?, module: String = "/usr/bin/app") -> SymbolizedFrame {
        SymbolizedFrame(function: function, modulePath: module, address: 0x1000)
    }

    @Test(
        "allocator and runtime frames are recognised",
        arguments: [
            ("malloc", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            ("calloc", "/usr/bin/app"),
            ("realloc", "/usr/bin/app"),
            ("reallocarray", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            ("posix_memalign", "/usr/bin/app"),
            ("aligned_alloc", "/usr/bin/app"),
            ("memalign", "/usr/bin/app"),
            ("valloc", "/usr/bin/app"),
            ("pvalloc", "/usr/bin/app"),
            ("free", "/usr/bin/app"),
            ("__libc_malloc", "/usr/bin/app"),
            ("malloc.cold", "/usr/bin/app"),
            ("strdup", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            ("_IO_file_doallocate", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            ("_dl_allocate_tls", "/lib64/ld-linux-x86-64.so.2"),
            ("operator new(unsigned long)", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
            ("operator new[](unsigned long)", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
            ("operator new(unsigned long, std::align_val_t)", "/usr/bin/app"),
            ("std::__new_allocator<int>::allocate(unsigned long, void const*)", "/usr/bin/app"),
            ("__gnu_cxx::new_allocator<int>::allocate(unsigned long, void const*)", "/usr/bin/app"),
            ("std::allocator_traits<std::allocator<int> >::allocate(std::allocator<int>&, unsigned long)", "/usr/bin/app"),
            ("std::_Vector_base<int, std::allocator<int> >::_M_allocate(unsigned long)", "/usr/bin/app"),
            (
                "void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(__gnu_cxx::__normal_iterator<int*, std::vector<int, std::allocator<int> > >, int const&)",
                "/usr/bin/app"
            ),
            (
                "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::_M_create(unsigned long&, unsigned long)",
                "/usr/bin/app"
            ),
            (
                "void std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::_M_construct<char const*>(char const*, char const*, std::forward_iterator_tag)",
                "/usr/bin/app"
            ),
            (
                "std::__detail::_Hashtable_alloc<std::allocator<std::__detail::_Hash_node<int, false> > >::_M_allocate_node<int const&>(int const&)",
                "/usr/bin/app"
            ),
            ("std::__1::vector<int, std::__1::allocator<int> >::__push_back_slow_path<int const&>(int const&)", "/usr/bin/app"),
            ("swift_allocObject", "/usr/lib/swift/linux/libswiftCore.so"),
            ("swift_slowAlloc", "/usr/lib/swift/linux/libswiftCore.so"),
            ("swift_retain", "/usr/lib/swift/linux/libswiftCore.so"),
            ("Swift._ContiguousArrayBuffer._consumeAndCreateNew(bufferIsUnique:minimumCapacity:growForAppend:)", "/usr/bin/app"),
            (
                "specialized Swift._ArrayBuffer._consumeAndCreateNew(bufferIsUnique:minimumCapacity:growForAppend:)",
                "/usr/bin/app"
            ),
            ("Swift.Array._createNewBuffer(bufferIsUnique:minimumCapacity:growForAppend:)", "/usr/bin/app"),
            (
                "generic pre-specialization <Swift.AnyObject> of Swift.Array._createNewBuffer(bufferIsUnique:minimumCapacity:growForAppend:)",
                "/usr/lib/swift/linux/libswiftCore.so"
            ),
            (
                "generic specialization <Swift.Int, Swift.Array<Swift.Int>> of Swift._NativeDictionary._copyOrMoveAndResize(capacity:moveElements:)",
                "/usr/bin/app"
            ),
            ("Swift._allocateUninitializedArray<A>(_:)", "/usr/bin/app"),
            ("Swift._StringGuts.grow(_:)", "/usr/bin/app"),
            ("Swift._NativeDictionary.resize(capacity:)", "/usr/bin/app"),
            ("static Swift._DictionaryStorage.allocate(capacity:)", "/usr/bin/app"),
            ("PyMem_Malloc", "/usr/lib/libpython3.11.so"),
            ("PyObject_Malloc", "/usr/lib/libpython3.11.so"),
            ("PyObject_Realloc", "/usr/lib/libpython3.11.so"),
            ("_PyObject_GC_New", "/usr/lib/libpython3.11.so"),
            ("pymalloc_alloc", "/usr/lib/libpython3.11.so"),
            ("record_allocation", "/opt/memdrift/lib/libmemdrift.so"),
        ])
    func recognised(function: String, module: String) {
        #expect(AllocatorFrames.isAllocatorOrRuntime(frame(function, module: module)))
    }

    @Test(
        "application code is kept",
        arguments: [
            ("leaky.Cache.insert(_:)", "/usr/bin/app"),
            ("ns::Klass::method(int)", "/usr/bin/app"),
            ("std::vector<int, std::allocator<int> >::push_back(int const&)", "/usr/bin/app"),
            ("Swift.Array.append(_:)", "/usr/bin/app"),
            ("fixture::make_map", "/usr/bin/app"),
            ("printf", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            ("strdup", "/usr/bin/app"),
            ("_internal_helper", "/usr/bin/app"),
            ("freeze_everything", "/usr/bin/app"),
            ("mallocator.Pool.take()", "/usr/bin/app"),
            ("PyList_Append", "/usr/lib/libpython3.11.so"),
        ])
    func kept(function: String, module: String) {
        #expect(!AllocatorFrames.isAllocatorOrRuntime(frame(function, module: module)))
    }

    @Test("unknown frames are never allocator frames")
    func unknownFrames() {
        #expect(!AllocatorFrames.isAllocatorOrRuntime(frame(nil)))
        #expect(!AllocatorFrames.isAllocatorOrRuntime(frame(nil, module: "/opt/memdrift/lib/libmemdrift.so")))
    }

    @Test("leading allocator frames are trimmed, the rest is kept")
    func trimming() {
        let stack = [
            frame("memdrift_malloc_hook", module: "/opt/memdrift/lib/libmemdrift.so"),
            frame("malloc", module: "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            frame("operator new(unsigned long)", module: "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
            frame("std::_Vector_base<int, std::allocator<int> >::_M_allocate(unsigned long)"),
            frame("ns::Klass::method(int)"),
            frame("malloc"),
            frame("main"),
        ]
        #expect(
            AllocatorFrames.trimmingLeadingAllocatorFrames(stack).map(\.function) == ["ns::Klass::method(int)", "malloc", "main"])
        let onlyAllocators = Array(stack.prefix(3))
        #expect(AllocatorFrames.trimmingLeadingAllocatorFrames(onlyAllocators) == onlyAllocators)
        #expect(AllocatorFrames.trimmingLeadingAllocatorFrames([]).isEmpty)
        let unknownFirst = [frame(nil), frame("malloc")]
        #expect(AllocatorFrames.trimmingLeadingAllocatorFrames(unknownFirst) == unknownFirst)
    }

    /// A frame Go's heap profiler named, as StackSymbolizer presents a source frame: module and runtime "go".
    private func goFrame(_ function: String, line: Int = 10) -> SymbolizedFrame {
        StackSymbolizer().symbolize(
            .source(SourceFrame(runtime: "go", function: function, file: "/src/app/main.go", line: line)))[0]
    }

    @Test(
        "Go's runtime and its buffer-growth internals are allocator frames",
        arguments: [
            "runtime.mallocgc", "runtime.newobject", "runtime.makeslice", "runtime.growslice", "runtime.mapassign_faststr",
            "runtime.makemap", "runtime.rawstringtmp", "runtime.concatstrings", "runtime.slicebytetostring", "runtime.malg",
            "internal/bytealg.MakeNoZero", "strings.(*Builder).grow", "strings.(*Builder).WriteString",
            "bytes.growSlice", "bytes.(*Buffer).grow", "bytes.(*Buffer).Write",
        ])
    func goRecognised(function: String) {
        #expect(AllocatorFrames.isAllocatorOrRuntime(goFrame(function)))
    }

    @Test(
        "Go application and library code is kept, and Go's rules apply only to Go frames",
        arguments: [
            "main.rememberSession", "main.(*cache).put", "runtime/pprof.writeHeap", "net/http.(*conn).serve",
            "strings.Repeat", "bytes.Clone", "github.com/acme/runtime.Alloc", "encoding/json.Marshal", "malloc",
        ])
    func goKept(function: String) {
        #expect(!AllocatorFrames.isAllocatorOrRuntime(goFrame(function)))
    }

    @Test("a native function named like Go's runtime is judged by the native rules")
    func goRulesNeedTheGoRuntime() {
        #expect(goFrame("runtime.mallocgc").module == "go" && goFrame("runtime.mallocgc").runtime == "go")
        #expect(!AllocatorFrames.isAllocatorOrRuntime(frame("runtime.mallocgc", module: "/usr/bin/app")))
        #expect(AllocatorFrames.isAllocatorOrRuntime(frame("malloc", module: "/usr/bin/app")))
    }

    @Test("leading Go runtime and builder frames fold away down to the code that asked")
    func goTrimming() {
        let stack = [
            goFrame("runtime.mallocgc"), goFrame("runtime.growslice"), goFrame("bytes.growSlice"),
            goFrame("bytes.(*Buffer).grow"), goFrame("bytes.(*Buffer).WriteString"), goFrame("main.render", line: 42),
            goFrame("runtime.convTstring"), goFrame("main.main"), goFrame("runtime.main"),
        ]
        let trimmed = AllocatorFrames.trimmingLeadingAllocatorFrames(stack)
        #expect(trimmed.map(\.function) == ["main.render", "runtime.convTstring", "main.main", "runtime.main"])
        #expect(trimmed.first?.line == 42 && trimmed.first?.file == "/src/app/main.go")
        // A goroutine stack allocated by the runtime for itself is all runtime: nothing to fold to.
        let runtimeOnly = [goFrame("runtime.malg"), goFrame("runtime.newproc1"), goFrame("runtime.systemstack")]
        #expect(AllocatorFrames.trimmingLeadingAllocatorFrames(runtimeOnly) == runtimeOnly)
    }
}

@Suite struct RuntimeFramesTests {
    private func native(_ function: String, _ module: String = "/usr/bin/node") -> SymbolizedFrame {
        SymbolizedFrame(function: function, modulePath: module, address: 1)
    }
    private func source(_ function: String, _ file: String, runtime: String = "js") -> SymbolizedFrame {
        SymbolizedFrame(function: function, file: file, line: 3, modulePath: runtime, address: 0, runtime: runtime)
    }
    private let jit = SymbolizedFrame(modulePath: "[unknown]", address: 0x7F00, note: "no module")

    /// The interpreter's own frames in front of the user's JavaScript are folded away.
    @Test func theFirstFrameIsTheUsersCode() {
        let frames = [
            native("node::NodeArrayBufferAllocator::Allocate(unsigned long)"), native("Builtins_CEntry"), jit,
            source("fill", "node:internal/buffer"), source("keepBuffer", "/srv/app.js"), source("main", "/srv/app.js"),
        ]
        #expect(AllocatorFrames.trimmingLeadingRuntimeFrames(frames).map(\.function) == ["keepBuffer", "main"])
    }

    /// A C extension is user code too: it stays, in front of the Python line that called it.
    @Test func anExtensionStopsTheFolding() {
        let frames = [
            native("compress_block", "/usr/lib/python3/ext.so"), native("_PyEval_EvalFrameDefault", "/usr/bin/python3.11"),
            source("handle", "/srv/app.py", runtime: "python"),
        ]
        #expect(
            AllocatorFrames.trimmingLeadingRuntimeFrames(frames).map(\.function) == [
                "compress_block", "_PyEval_EvalFrameDefault", "handle",
            ])
    }

    @Test func nativeOnlyStacksAreLeftAlone() {
        let frames = [native("a", "/bin/app"), native("b", "/bin/app")]
        #expect(AllocatorFrames.trimmingLeadingRuntimeFrames(frames).map(\.function) == ["a", "b"])
    }
}

@Suite struct StrippedAllocatorTests {
    /// An Erlang node's carrier allocation in stripped beam.smp: the unnamed static functions
    /// between the allocator's named ones are the allocator too; the emulator function stays.
    @Test func unnamedFramesBetweenAllocatorFramesFoldWithThem() {
        let beam = "/usr/lib/erlang/erts-13.1.5/bin/beam.smp"
        let frames = [
            SymbolizedFrame(function: "erts_mmap", modulePath: beam, address: 1),
            SymbolizedFrame(modulePath: beam, address: 2, note: "no symbol"),
            SymbolizedFrame(function: "erts_mseg_alloc_opt", modulePath: beam, address: 3),
            SymbolizedFrame(function: "erts_alcu_alloc_thr_pref", modulePath: beam, address: 4),
            SymbolizedFrame(function: "db_store_term", modulePath: beam, address: 5),
            SymbolizedFrame(modulePath: beam, address: 6, note: "no symbol"),
        ]
        #expect(AllocatorFrames.trimmingLeadingAllocatorFrames(frames).map(\.address) == [5, 6])
        // Unnamed frames after the last allocator frame are the caller's: they stay.
        #expect(AllocatorFrames.trimmingLeadingAllocatorFrames(Array(frames.prefix(2)) + [frames[5]]).map(\.address) == [2, 6])
    }
}
