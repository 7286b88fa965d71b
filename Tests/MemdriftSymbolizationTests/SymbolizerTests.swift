import Foundation
import Testing

@testable import MemdriftSymbolization

@Suite("Symbolizer")
struct SymbolizerTests {
    @Test("function start resolves to the function and its first line")
    func functionStart() throws {
        let directory = try ScratchDirectory("start")
        let fixture = try CFixture.build(in: directory)
        let symbolizer = Symbolizer(debugDirectories: [])
        for (function, marker) in [
            ("direct_caller", "direct-start"), ("outer_with_inline", "outer-start"),
            ("leaky_allocation", "leaky-start"), ("report", "report"),
        ] {
            let start = try #require(fixture.symbols[function])
            let frames = symbolizer.symbolize(
                modulePath: fixture.binary, buildID: [], address: start + 1,
                isReturnAddress: false)
            let frame = try #require(frames.last)
            #expect(frames.count == 1)
            #expect(frame.function == function)
            #expect(frame.rawSymbol == function)
            #expect(lastPathComponent(frame.file) == "fixture.c")
            #expect(frame.line == CFixture.line(marker))
            #expect(frame.module == "fixture")
            #expect(frame.modulePath == fixture.binary)
            #expect(frame.address == start + 1)
            #expect(frame.note == nil)
        }
    }

    @Test("return addresses resolve to the call line, with inlined frames innermost first")
    func returnAddressesAndInlining() throws {
        let directory = try ScratchDirectory("inline")
        for flags in [["-O0"], ["-O2"]] {
            let fixture = try CFixture.build(in: directory, name: "fixture", flags: flags)
            let symbolizer = Symbolizer(debugDirectories: [])

            let direct = try #require(fixture.returnAddresses["direct"])
            let directFrames = symbolizer.symbolize(modulePath: fixture.binary, buildID: [], address: direct)
            #expect(directFrames.map(\.function) == ["direct_caller"])
            #expect(directFrames.first?.line == CFixture.line("direct-call"))
            #expect(directFrames.first?.address == direct, "the address is reported as given, not minus one")

            let inlined = try #require(fixture.returnAddresses["inlined"])
            let inlinedFrames = symbolizer.symbolize(modulePath: fixture.binary, buildID: [], address: inlined)
            #expect(inlinedFrames.map(\.function) == ["inlined_helper", "outer_with_inline"])
            #expect(inlinedFrames.map(\.isInlined) == [true, false])
            #expect(inlinedFrames.map(\.line) == [CFixture.line("inlined-call"), CFixture.line("outer-call")])
            #expect(inlinedFrames.map { lastPathComponent($0.file) } == ["fixture.c", "fixture.c"])
        }
    }

    @Test("a return address is looked up one byte earlier than an exact address")
    func returnAddressAdjustment() throws {
        let directory = try ScratchDirectory("adjust")
        let fixture = try CFixture.build(in: directory)
        let symbolizer = Symbolizer(debugDirectories: [])
        let local = try #require(fixture.symbols["local_only"])
        // The first byte of a function, taken as a return address, belongs to the code before it.
        let asReturn = symbolizer.symbolize(modulePath: fixture.binary, buildID: [], address: local)
        let exact = symbolizer.symbolize(modulePath: fixture.binary, buildID: [], address: local, isReturnAddress: false)
        #expect(exact.last?.function == "local_only")
        #expect(asReturn.last?.function != "local_only")
    }

    @Test("stripped shared library: exported names come from .dynsym, local functions get no name")
    func strippedLibraryUsesDynsym() throws {
        let directory = try ScratchDirectory("dynsym")
        let source = try directory.write(
            "lib.c",
            """
            __attribute__((noinline)) static int hidden_helper(int x) { return x * 7; }
            __attribute__((noinline)) int exported_entry(int x) { return hidden_helper(x) + 1; }
            __attribute__((noinline)) int other_export(int x) { return x - 1; }
            """)
        let library = directory.file("libfixture.so")
        try runTool("cc", ["-g", "-O1", "-shared", "-fPIC", "-o", library, source])
        let symbols = try symbolAddresses(library)
        let hidden = try #require(symbols["hidden_helper"])
        let exported = try #require(symbols["exported_entry"])
        try runTool("strip", ["--strip-all", library])
        #expect(try symbolAddresses(library)["hidden_helper"] == nil)

        let symbolizer = Symbolizer(debugDirectories: [])
        let frames = symbolizer.symbolize(modulePath: library, buildID: [], address: exported + 2, isReturnAddress: false)
        #expect(frames.map(\.function) == ["exported_entry"])
        #expect(frames.first?.file == nil)
        #expect(frames.first?.module == "libfixture.so")
        #expect(symbolizer.describeSources(modulePath: library).contains(".dynsym"))

        let hiddenFrames = symbolizer.symbolize(modulePath: library, buildID: [], address: hidden + 1, isReturnAddress: false)
        #expect(hiddenFrames.first?.function == nil, "a stripped local function must not borrow a neighbour's name")
        #expect(hiddenFrames.first?.note == "no symbol")
    }

    @Test("missing module and replaced module give notes, never names")
    func missingAndMismatchedModules() throws {
        let directory = try ScratchDirectory("buildid")
        let fixture = try CFixture.build(in: directory)
        let symbolizer = Symbolizer(debugDirectories: [])
        let start = try #require(fixture.symbols["direct_caller"])

        let missing = symbolizer.symbolize(modulePath: directory.file("gone.so"), buildID: [1, 2, 3], address: start)
        #expect(missing.count == 1)
        #expect(missing.first?.function == nil)
        #expect(missing.first?.note == "module missing")
        #expect(missing.first?.module == "gone.so")

        let buildID = try readelfBuildID(fixture.binary)
        #expect(buildID.count >= 8)
        #expect(Symbolizer.buildID(ofModuleAt: fixture.binary) == buildID)

        var wrong = buildID
        wrong[0] ^= 0xff
        let mismatch = symbolizer.symbolize(modulePath: fixture.binary, buildID: wrong, address: start, isReturnAddress: false)
        #expect(mismatch.count == 1)
        #expect(mismatch.first?.function == nil)
        #expect(mismatch.first?.note == "build-id mismatch (module replaced since the run)")

        let matching = symbolizer.symbolize(modulePath: fixture.binary, buildID: buildID, address: start, isReturnAddress: false)
        #expect(matching.first?.function == "direct_caller")
        let unchecked = symbolizer.symbolize(modulePath: fixture.binary, buildID: [], address: start, isReturnAddress: false)
        #expect(unchecked.first?.function == "direct_caller")
    }

    @Test("separate debug file found by build-id supplies symbols and lines")
    func debugFileByBuildID() throws {
        let directory = try ScratchDirectory("debug-buildid")
        let fixture = try CFixture.build(in: directory)
        let local = try #require(fixture.symbols["local_only"])
        let debugFile = directory.file("fixture.debug")
        try runTool("objcopy", ["--only-keep-debug", fixture.binary, debugFile])
        try runTool("strip", ["--strip-all", fixture.binary])

        let hex = try readelfBuildID(fixture.binary).map { String(format: "%02x", $0) }.joined()
        let debugRoot = directory.file("debug")
        let buildIDDirectory = "\(debugRoot)/.build-id/\(hex.prefix(2))"
        try FileManager.default.createDirectory(atPath: buildIDDirectory, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: debugFile, toPath: "\(buildIDDirectory)/\(hex.dropFirst(2)).debug")

        let without = Symbolizer(debugDirectories: [])
            .symbolize(modulePath: fixture.binary, buildID: [], address: local + 1, isReturnAddress: false)
        #expect(without.first?.function == nil)
        #expect(without.first?.line == nil)

        let symbolizer = Symbolizer(debugDirectories: [directory.file("elsewhere"), debugRoot])
        let frames = symbolizer.symbolize(modulePath: fixture.binary, buildID: [], address: local + 1, isReturnAddress: false)
        #expect(frames.map(\.function) == ["local_only"])
        #expect(frames.first?.line == CFixture.line("local-start"))
        #expect(lastPathComponent(frames.first?.file) == "fixture.c")
        #expect(symbolizer.describeSources(modulePath: fixture.binary).contains("debug file"))
    }

    @Test("separate debug file found through .gnu_debuglink in the .debug subdirectory")
    func debugFileByDebugLink() throws {
        let directory = try ScratchDirectory("debuglink")
        let fixture = try CFixture.build(in: directory)
        let report = try #require(fixture.symbols["report"])
        let debugDirectory = directory.file(".debug")
        try FileManager.default.createDirectory(atPath: debugDirectory, withIntermediateDirectories: true)
        let debugFile = "\(debugDirectory)/fixture.debug"
        try runTool("objcopy", ["--only-keep-debug", fixture.binary, debugFile])
        try runTool("strip", ["--strip-all", fixture.binary])
        try runTool("objcopy", ["--add-gnu-debuglink=\(debugFile)", fixture.binary])

        let symbolizer = Symbolizer(debugDirectories: [])
        let frames = symbolizer.symbolize(modulePath: fixture.binary, buildID: [], address: report + 1, isReturnAddress: false)
        #expect(frames.map(\.function) == ["report"])
        #expect(frames.first?.line == CFixture.line("report"))
    }

    @Test("truncated, random and empty files do not crash")
    func malformedFiles() throws {
        let directory = try ScratchDirectory("malformed")
        let fixture = try CFixture.build(in: directory)
        let original = try Data(contentsOf: URL(fileURLWithPath: fixture.binary))
        let start = try #require(fixture.symbols["direct_caller"])

        var generator = SystemRandomNumberGenerator()
        let garbage = Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &generator) })
        var headerThenGarbage = original.prefix(64)
        headerThenGarbage.append(garbage)
        let cases: [(String, Data)] = [
            ("truncated-100", original.prefix(100)),
            ("truncated-half", original.prefix(original.count / 2)),
            ("truncated-minus-one", original.prefix(original.count - 1)),
            ("random", garbage),
            ("header-then-garbage", headerThenGarbage),
            ("empty", Data()),
        ]
        let symbolizer = Symbolizer(debugDirectories: [directory.path])
        for (name, bytes) in cases {
            let path = directory.file(name)
            try bytes.write(to: URL(fileURLWithPath: path))
            for address in [start, 0, 1, UInt64.max, start + 0x10_0000] {
                let frames = symbolizer.symbolize(modulePath: path, buildID: [], address: address, isReturnAddress: false)
                #expect(!frames.isEmpty, "\(name)")
                for frame in frames where frame.function != nil {
                    #expect(frame.function == "direct_caller", "\(name) must not invent names")
                }
            }
        }
        let notes = ["random", "empty", "truncated-100"].map {
            symbolizer.symbolize(modulePath: directory.file($0), buildID: [], address: start).first?.note
        }
        #expect(notes[0] == "not an ELF file")
        #expect(notes[1] == "not an ELF file")
        #expect(notes[2] != nil)
        #expect(symbolizer.symbolize(modulePath: directory.path, buildID: [], address: 1).first?.note == "not an ELF file")
    }

    @Test("C++ methods are demangled from the symbol table")
    func cxxFixture() throws {
        let directory = try ScratchDirectory("cxx")
        let source = """
            #include <cstdio>
            #include <vector>
            namespace ns {
            struct Klass {
                __attribute__((noinline)) int method(int x);
            };
            int Klass::method(int x) { /* MARK:method */
                std::vector<int> values(static_cast<unsigned>(x));
                return static_cast<int>(values.size());
            }
            }
            int main() {
                ns::Klass k;
                std::printf("%d\\n", k.method(3));
            }
            """
        let sourceFile = try directory.write("fixture.cpp", source)
        let binary = directory.file("cxxfixture")
        try runTool("c++", ["-g", "-O0", "-o", binary, sourceFile])
        let symbols = try symbolAddresses(binary)
        let method = try #require(symbols["_ZN2ns5Klass6methodEi"])
        let frames = Symbolizer(debugDirectories: [])
            .symbolize(modulePath: binary, buildID: [], address: method + 4, isReturnAddress: false)
        #expect(frames.map(\.function) == ["ns::Klass::method(int)"])
        #expect(frames.first?.rawSymbol == "_ZN2ns5Klass6methodEi")
        #expect(frames.first?.line == lineNumber(of: "MARK:method", in: source))

        // The vector's allocation path in this binary is folded away; the method itself is not.
        let demangled = symbols.keys.map(Demangler.demangle)
        let plumbing = demangled.filter { $0.contains("_M_allocate") || $0.contains("new_allocator") }
        #expect(!plumbing.isEmpty)
        for name in plumbing {
            #expect(
                AllocatorFrames.isAllocatorOrRuntime(SymbolizedFrame(function: name, modulePath: binary, address: 0)), "\(name)")
        }
        #expect(!AllocatorFrames.isAllocatorOrRuntime(frames[0]))
    }

    @Test("Swift binaries (no .debug_aranges) get names and lines")
    func swiftFixture() throws {
        let directory = try ScratchDirectory("swift")
        let source = """
            final class Cache {
                var storage: [String] = []
                func insert(_ value: String) { // MARK:insert
                    storage.append(value)
                }
            }
            @main struct App {
                static func main() {
                    let cache = Cache()
                    for index in 0..<3 { cache.insert("v\\(index)") }
                    print(cache.storage.count)
                }
            }
            """
        let sourceFile = try directory.write("leaky.swift", source)
        let binary = directory.file("leaky")
        try runTool("swiftc", ["-g", "-Onone", "-parse-as-library", "-module-name", "leaky", "-o", binary, sourceFile])
        #expect(!(try runTool("readelf", ["-S", "-W", binary]).contains(".debug_aranges")))
        let insert = try #require(try symbolAddresses(binary)["$s5leaky5CacheC6insertyySSF"])
        let frames = Symbolizer(debugDirectories: [])
            .symbolize(modulePath: binary, buildID: [], address: insert, isReturnAddress: false)
        #expect(frames.last?.function == "leaky.Cache.insert(_:)")
        #expect(frames.last?.line == lineNumber(of: "MARK:insert", in: source))
        #expect(lastPathComponent(frames.last?.file) == "leaky.swift")
    }

    @Test("Rust binaries with v0 and legacy mangling get readable names")
    func rustFixtures() throws {
        let directory = try ScratchDirectory("rust")
        let source = """
            struct Cache<T> { items: Vec<T> }
            impl<T: Clone> Cache<T> {
                #[inline(never)]
                fn insert(&mut self, x: T) { self.items.push(x.clone()); }
            }
            trait Grow { fn grow(&mut self) -> usize; }
            impl Grow for Cache<u32> {
                #[inline(never)]
                fn grow(&mut self) -> usize { self.items.push(7); self.items.len() }
            }
            #[inline(never)]
            fn make_map(n: u32) -> Vec<String> { // MARK:make_map
                (0..n).map(|i| format!("{i}")).collect()
            }
            fn main() {
                let mut c = Cache { items: Vec::new() };
                c.insert(1u32);
                c.grow();
                println!("{}", make_map(5).len());
            }
            """
        let sourceFile = try directory.write("fixture.rs", source)
        let expectations: [(String, [String])] = [
            (
                "v0",
                [
                    "fixture::make_map", "<fixture::Cache<u32> as fixture::Grow>::grow",
                    "<fixture::Cache<u32>>::insert", "fixture::make_map::{closure#0}", "fixture::main",
                ]
            ),
            (
                "legacy",
                [
                    "fixture::make_map", "<fixture::Cache<u32> as fixture::Grow>::grow",
                    "fixture::Cache<T>::insert", "fixture::make_map::{{closure}}", "fixture::main",
                ]
            ),
        ]
        for (scheme, expected) in expectations {
            let binary = directory.file("fixture-\(scheme)")
            var arguments = ["-g", "-C", "opt-level=0", "-o", binary, sourceFile]
            if scheme == "v0" { arguments += ["-C", "symbol-mangling-version=v0"] }
            try runTool("rustc", arguments)
            let symbols = try symbolAddresses(binary)
            let byName = Dictionary(symbols.map { (Demangler.demangle($0.key), $0) }, uniquingKeysWith: { first, _ in first })
            for name in expected {
                #expect(byName[name] != nil, "\(scheme): \(name) not among demangled symbols")
            }
            let makeMap = try #require(byName["fixture::make_map"])
            #expect(makeMap.key.hasPrefix(scheme == "v0" ? "_R" : "_ZN"))
            let frames = Symbolizer(debugDirectories: [])
                .symbolize(modulePath: binary, buildID: [], address: makeMap.value, isReturnAddress: false)
            #expect(frames.last?.function == "fixture::make_map")
            #expect(frames.last?.line == lineNumber(of: "MARK:make_map", in: source))
        }
    }

    @Test("results are cached and stable across repeated and concurrent lookups")
    func cachingAndConcurrency() async throws {
        let directory = try ScratchDirectory("cache")
        let fixture = try CFixture.build(in: directory)
        let symbolizer = Symbolizer(debugDirectories: [])
        let inlined = try #require(fixture.returnAddresses["inlined"])
        let first = symbolizer.symbolize(modulePath: fixture.binary, buildID: [], address: inlined)
        let results = await withTaskGroup(of: [SymbolizedFrame].self) { group in
            for _ in 0..<16 {
                group.addTask { symbolizer.symbolize(modulePath: fixture.binary, buildID: [], address: inlined) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0 == first })
        let encoded = try JSONEncoder().encode(first)
        #expect(try JSONDecoder().decode([SymbolizedFrame].self, from: encoded) == first)
    }
}

@Suite struct DebugSymbolsHintTests {
    @Test func namesTheDbgsymPackageOfPackagedFilesAndHowToBuildOthers() throws {
        let packaged = try #require(
            DebugSymbolsHint.line(
                for: ["/usr/bin/python3.11", "/usr/lib/libpython3.11.so"], packageOf: { _ in "python3.11-minimal" }))
        #expect(
            packaged
                == "memdrift: python3.11, libpython3.11.so have no symbols beyond exported functions (stripped, no debug file under /usr/lib/debug); for names and lines: apt-get install python3.11-minimal-dbgsym (add the debian-debug archive first)\n"
        )
        let own = try #require(DebugSymbolsHint.line(for: ["/opt/app"], packageOf: { _ in nil }))
        #expect(own.contains("app has no symbols") && own.contains("rebuild with -g"))
        #expect(DebugSymbolsHint.line(for: []) == nil)
    }

    @Test func findsTheOwnerOfAnInstalledFile() {
        #expect(DebianPackages.owner(of: "/bin/ls") == "coreutils")
        #expect(DebianPackages.owner(of: "/nonexistent/file") == nil)
    }
}
