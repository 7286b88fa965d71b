import Foundation
import MemdriftCore
import Testing

/// CPython programs under `memdrift run`, run exactly as their team runs them: the tracker reads the
/// Python frames and records pymalloc's objects, so the report names the Python line that builds
/// what leaks. Each interpreter that is installed is tested; one that is missing is skipped with a
/// note, never a failure.
@Suite(.serialized, .tags(.slow)) struct PythonTests {
    /// The interpreters to test: Debian's (stripped, its C API exported) and pyenv's builds.
    static let interpreters: [(name: String, path: String?)] = [
        ("3.11 (Debian)", executable("/usr/bin/python3.11")),
        ("3.12 (pyenv)", pyenv("3.12")),
        ("3.13 (pyenv)", pyenv("3.13")),
    ]

    static let app = repositoryRoot + "/Examples/python-service/app.py"

    /// The line of app.py that carries `marker` in its comment.
    static func line(of marker: String) throws -> Int {
        let text = try String(contentsOfFile: app, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return try #require(lines.firstIndex { $0.contains("# " + marker) }) + 1
    }

    /// Every run of app.py, recorded once and concurrently (they mostly sleep), at a 1 s interval,
    /// then reported concurrently: the output of `report --json` by run, and the most checkpoints
    /// (snapshots that are not deltas) one series of the run wrote.
    static let recorded: (reports: [String: Data], checkpoints: [String: Int]) = {
        var runs: [(String, String, [String])] = []
        for (name, path) in interpreters {
            guard let path else { continue }
            runs.append((name + " leak", path, []))
            runs.append((name + " threads", path, ["--threads", "3", "--rate", "400", "--compress"]))
            runs.append((name + " fork", path, ["--fork"]))
        }
        if let debian = interpreters[0].path { runs.append(("control", debian, ["--keep-every", "0"])) }
        var sessions: [String: String] = [:]
        var processes: [Process] = []
        for (name, python, flags) in runs {
            guard let dir = try? scratchDirectory() else { continue }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Built.memdrift)
            process.arguments =
                ["run", "-q", "--interval", "1s", "-o", dir + "/s", "--", python, app, "--seconds", "16"] + flags
            process.standardOutput = FileHandle.nullDevice
            if (try? process.run()) != nil {
                processes.append(process)
                sessions[name] = dir + "/s"
            }
        }
        for p in processes { p.waitUntilExit() }
        var reports: [String: Data] = [:]
        var reporting: [(String, Process, String)] = []
        for (name, session) in sessions {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Built.memdrift)
            process.arguments = ["report", "--json", session]
            let output = session + ".json"
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: output)
            process.standardError = FileHandle.nullDevice
            if (try? process.run()) != nil { reporting.append((name, process, output)) }
        }
        for (name, process, output) in reporting {
            process.waitUntilExit()
            reports[name] = FileManager.default.contents(atPath: output)
        }
        var checkpoints: [String: Int] = [:]
        for (name, session) in sessions {
            for series in (try? FileManager.default.contentsOfDirectory(atPath: session)) ?? [] where series.hasPrefix("pid-") {
                let files = (try? FileManager.default.contentsOfDirectory(atPath: session + "/" + series)) ?? []
                let count = files.filter { file in
                    file.hasSuffix(".mds")
                        && (try? SnapshotReader.readHeader(path: "\(session)/\(series)/\(file)"))?.isDelta == false
                }.count
                checkpoints[name] = max(checkpoints[name] ?? 0, count)
            }
        }
        // A checkpoint of a Python program names tens of thousands of stacks: megabytes each.
        for session in sessions.values {
            try? FileManager.default.removeItem(atPath: (session as NSString).deletingLastPathComponent)
        }
        return (reports, checkpoints)
    }()

    static var reports: [String: Data] { recorded.reports }

    /// A 16 s run writes one checkpoint per series, its first snapshot: the deltas after the one
    /// that names the program's stacks (Python frames and all) count those as new, not repeated.
    @Test func aShortRunWritesOneCheckpointPerSeries() {
        for (name, count) in Self.recorded.checkpoints { #expect(count == 1, "\(name)") }
        #expect(!Self.recorded.checkpoints.isEmpty)
    }

    /// `report --json` of a recorded run.
    static func report(_ name: String) throws -> [String: Any] {
        let data = try #require(reports[name], "no report of \(name)")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name)")
    }

    static func processes(_ r: [String: Any]) -> [[String: Any]] { r["processes"] as? [[String: Any]] ?? [] }

    static func firstSuspectFrames(_ p: [String: Any]) -> [[String: Any]] {
        ((p["suspects"] as? [[String: Any]])?.first?["frames"] as? [[String: Any]]) ?? []
    }

    /// Whether `frame` is the Python function `function` at app.py:`line`.
    static func isAppFrame(_ frame: [String: Any]?, _ function: String, line: Int) -> Bool {
        frame?["function"] as? String == function && (frame?["file"] as? String)?.hasSuffix("/app.py") == true
            && frame?["line"] as? Int == line && frame?["module"] as? String == "python"
    }

    /// The interpreters that are installed; prints a note for each that is not.
    static func installed() -> [(name: String, path: String)] {
        interpreters.compactMap { name, path in
            if path == nil { print("PythonTests: CPython \(name) is not installed here; its cases are skipped") }
            return path.map { (name, $0) }
        }
    }

    @Test func aKeptSessionDictIsALeakAtTheLineThatBuildsIt() throws {
        let building = try Self.line(of: "builds the kept object")
        for (name, _) in Self.installed() {
            let r = try Self.report(name + " leak")
            #expect(r["verdict"] as? String == "leak", "\(name)")
            let p = try #require(Self.processes(r).first)
            #expect(p["verdict"] as? String == "leak", "\(name)")
            let frames = Self.firstSuspectFrames(p)
            #expect(Self.isAppFrame(frames.first, "build_session", line: building), "\(name): \(frames.prefix(2))")
            #expect(frames.count > 1 && frames[1]["function"] as? String == "handle_request", "\(name)")
        }
    }

    @Test func theControlKeepsNothingAndIsNotALeak() throws {
        guard Self.interpreters[0].path != nil else {
            print("PythonTests: /usr/bin/python3.11 is not installed here; the control is skipped")
            return
        }
        let r = try Self.report("control")
        #expect(r["verdict"] as? String != "leak")
        #expect(Self.processes(r).first?["verdict"] as? String != "leak")
    }

    /// Sessions built by worker threads carry each thread's own Python frames, down to its start.
    @Test func aWorkerThreadsLeakNamesItsOwnFrames() throws {
        let building = try Self.line(of: "builds the kept object")
        for (name, _) in Self.installed() {
            let r = try Self.report(name + " threads")
            #expect(r["verdict"] as? String == "leak", "\(name)")
            let suspects = try #require(Self.processes(r).first?["suspects"] as? [[String: Any]])
            let frames = try #require(
                suspects.lazy.compactMap { $0["frames"] as? [[String: Any]] }.first {
                    Self.isAppFrame($0.first, "build_session", line: building)
                }, "\(name): no suspect at build_session")
            let functions = frames.compactMap { $0["function"] as? String }
            #expect(functions.contains("serve") && functions.contains("Thread.run"), "\(name): \(functions)")
            #expect(!functions.contains("main"), "\(name): a worker's stack is not the main thread's")
        }
    }

    /// A forked child that leaks has a series of its own that names the line; its parent, which
    /// keeps nothing, does not leak.
    @Test func aForkedChildsLeakIsItsOwn() throws {
        let building = try Self.line(of: "builds the kept object")
        for (name, _) in Self.installed() {
            let all = Self.processes(try Self.report(name + " fork"))
            #expect(
                all.count == 2,
                "\(name): \(all.map { "pid \($0["pid"] ?? "?") of \($0["parent_pid"] ?? "?"), \($0["sources"] ?? "?"), \($0["snapshots"] ?? "?") snapshots" })"
            )
            let leaking = all.filter { $0["verdict"] as? String == "leak" }
            let child = try #require(leaking.first, "\(name)")
            #expect(leaking.count == 1, "\(name)")
            let parent = try #require(all.first { $0["pid"] as? Int != child["pid"] as? Int })
            #expect(child["parent_pid"] as? Int == parent["pid"] as? Int, "\(name)")
            #expect(Self.isAppFrame(Self.firstSuspectFrames(child).first, "build_session", line: building), "\(name)")
        }
    }

    /// Memory a C extension allocates (zlib's deflate state, in worker threads) is named at the C
    /// function, then the Python line that called into it.
    @Test func memoryAnExtensionAllocatesNamesTheCFunctionThenThePythonLine() throws {
        let opening = try Self.line(of: "zlib's state")
        for (name, _) in Self.installed() {
            let frames = Self.firstSuspectFrames(try #require(Self.processes(try Self.report(name + " threads")).first))
            let first = try #require(frames.first, "\(name)")
            #expect(first["module"] as? String != "python", "\(name): \(first)")
            #expect((first["function"] as? String).map { !$0.isEmpty } == true, "\(name): \(first)")
            let python = frames.firstIndex { $0["module"] as? String == "python" }
            #expect(python.map { Self.isAppFrame(frames[$0], "open_compressor", line: opening) } == true, "\(name): \(frames)")
        }
    }

    /// The tracker's location-table decoding against co_lines() of every code object of a few
    /// standard-library modules, for each interpreter (Tests/TrackerC/python-lines.c).
    @Test(.tags(.slow)) func lineTablesDecodeAsTheInterpreterDoes() throws {
        let root = repositoryRoot
        let tracker = root + "/Sources/MemdriftTracker"
        let checker = try scratchDirectory() + "/python-lines"
        let built = try launch(
            "/usr/bin/cc",
            [
                "-O1", "-D_GNU_SOURCE", "-I" + tracker, "-I" + tracker + "/include", root + "/Tests/TrackerC/python-lines.c",
                tracker + "/python_code.c", "-o", checker,
            ])
        try #require(built.status == 0, "\(built.stderrText)")
        let script = """
            import importlib, sys, types
            def walk(code):
                yield code
                for c in code.co_consts:
                    if isinstance(c, types.CodeType):
                        yield from walk(c)
            for name in ["argparse", "json.decoder", "asyncio.base_events", "email.message", "dataclasses", "typing"]:
                path = importlib.import_module(name).__file__
                for code in walk(compile(open(path).read(), path, "exec")):
                    lines = [0] * (len(code.co_code) // 2)
                    for start, end, line in code.co_lines():
                        for unit in range(start // 2, end // 2):
                            lines[unit] = line or 0
                    print(code.co_firstlineno, code.co_linetable.hex() or "-", len(lines), *lines)
            """
        for (name, python) in Self.installed() {
            let dir = try scratchDirectory()
            let data = try launch(python, ["-c", script])
            try #require(data.status == 0, "\(name): \(data.stderrText)")
            try data.stdout.write(to: URL(fileURLWithPath: dir + "/tables"))
            let check = try launch("/bin/sh", ["-c", "\"$0\" < \"$1\"", checker, dir + "/tables"])
            #expect(check.status == 0, "\(name): \(check.stderrText)")
            #expect(check.stdoutText.contains("units agree"), "\(name)")
        }
    }

    /// Names are read as UTF-8 from any of CPython's string kinds; fork, multiprocessing and
    /// subprocess work as without memdrift, output included.
    @Test func nonASCIINamesAndChildProcesses() throws {
        let script = """
            import multiprocessing, subprocess, sys
            kept = []
            def grüße_π(n):
                return ["λ-%d" % i for i in range(n)]  # builds the kept object
            def square(x):
                return x * x
            if __name__ == "__main__":
                for i in range(2000):
                    kept.append(grüße_π(20))
                with multiprocessing.get_context("fork").Pool(2) as pool:
                    print(sum(pool.map(square, range(100))))
                print(subprocess.run([sys.executable, "-c", "print('child', 6 * 7)"], capture_output=True, text=True).stdout.strip())
            """
        for (name, python) in Self.installed() {
            let dir = try scratchDirectory()
            let file = dir + "/names.py"
            try script.write(toFile: file, atomically: true, encoding: .utf8)
            let plain = try launch(python, [file])
            let (traced, session) = try record([python, file], flags: ["-q", "--interval", "500ms"])
            #expect(traced.status == 0 && traced.stdout == plain.stdout, "\(name): \(traced.stderrText)")
            #expect(traced.stdoutText == "328350\nchild 42\n", "\(name)")
            let heap = try #require(try TimelineReader.read(session).processes.first?.attributed[.heapMalloc])
            let named = heap.sites.contains { site in
                site.frames.contains { $0 == .source(SourceFrame(runtime: "python", function: "grüße_π", file: file, line: 4)) }
            }
            #expect(named, "\(name)")
        }
    }

    /// In exact mode the objects pymalloc serves stay in pymalloc (`sys.getallocatedblocks()` sees
    /// them), each behind a tag, and are counted at the line that made them; a list's item array
    /// resized from nothing past pymalloc's limit into glibc, then freed, leaves nothing counted.
    @Test func exactModeKeepsObjectsInPymallocAndCountsResizesAndFrees() throws {
        let script = """
            import sys, time
            time.sleep(0.3)  # the hook goes in at a writer tick after the first Python frame
            def grow(n):
                items = []
                for i in range(n):
                    items.append(i)  # resizes the item array
                return items
            before = sys.getallocatedblocks()
            kept = [(str(i), i * 2.5) for i in range(50000)]  # builds the kept objects
            print(sys.getallocatedblocks() - before >= 140000)
            grown = [grow(200) for _ in range(1000)]
            del grown
            time.sleep(0.6)
            """
        let lines = script.split(separator: "\n", omittingEmptySubsequences: false)
        func lineOf(_ marker: String) -> Int { (lines.firstIndex { $0.contains(marker) } ?? -1) + 1 }
        for (name, python) in Self.installed() {
            let dir = try scratchDirectory()
            let file = dir + "/objects.py"
            try script.write(toFile: file, atomically: true, encoding: .utf8)
            let (traced, session) = try record([python, file], flags: ["-q", "--interval", "200ms"])
            #expect(traced.status == 0 && traced.stdoutText == "True\n", "\(name): \(traced.stdoutText) \(traced.stderrText)")
            let timeline = try #require(try TimelineReader.read(session).processes.first, "\(name)")
            let heap = try #require(timeline.attributed[.heapMalloc], "\(name)")
            let last = try #require(timeline.samples.lastIndex { !$0.isFinal }, "\(name)")
            /// The counters at `last` of the sites whose innermost Python frame is `line` of the script.
            func counters(line: Int) -> SiteCounters {
                var total = SiteCounters.zero
                for (i, site) in heap.sites.enumerated() {
                    let python = site.frames.lazy.compactMap { frame -> SourceFrame? in
                        if case .source(let s) = frame { return s }
                        return nil
                    }.first
                    if python?.file == file && python?.line == line { total = total + heap.histories[i].counters(at: last) }
                }
                return total
            }
            let kept = counters(line: lineOf("# builds the kept objects"))
            #expect(kept.liveCount >= 140_000 && kept.liveBytes >= 4_000_000, "\(name): \(kept)")
            let grown = counters(line: lineOf("# resizes the item array"))
            #expect(grown.allocatedBytes >= 1000 * 1600, "\(name): \(grown)")
            #expect(grown.liveBytes < 64 * 1024, "\(name): \(grown)")
        }
    }

    /// Python called back from C (a generator `sorted` resumes, an `__init__` the type calls) runs
    /// in evaluation frames of its own: each run of Python frames sits at its evaluation frame, the
    /// C between them kept, and the interpreter's own frames (`main` and below) come last.
    @Test func pythonCalledBackFromCKeepsItsPlaceInTheStack() throws {
        let script = """
            import time
            kept = []
            class Box:
                def __init__(self, i):
                    self.payload = {"i": i, "name": "box-%d" % i}  # builds the kept object
            def build(n):
                return sorted((Box(i) for i in range(n)), key=lambda b: -b.payload["i"])
            def main():
                for _ in range(30):
                    kept.extend(build(400))
                    time.sleep(0.02)
            main()
            """
        let building =
            (script.split(separator: "\n", omittingEmptySubsequences: false).firstIndex {
                $0.contains("# builds the kept object")
            } ?? -1) + 1
        for (name, python) in Self.installed() {
            let dir = try scratchDirectory()
            let file = dir + "/callbacks.py"
            try script.write(toFile: file, atomically: true, encoding: .utf8)
            let (traced, session) = try record([python, file], flags: ["-q", "--interval", "200ms"])
            #expect(traced.status == 0, "\(name): \(traced.stderrText)")
            let heap = try #require(try TimelineReader.read(session).processes.first?.attributed[.heapMalloc], "\(name)")
            let site = try #require(
                heap.sites.first { site in
                    site.frames.contains { frame in
                        if case .source(let s) = frame { return s.file == file && s.line == building }
                        return false
                    }
                }, "\(name): no site at the kept object's line")
            let python = site.frames.enumerated().compactMap { i, frame -> (Int, String)? in
                if case .source(let s) = frame, s.file == file { return (i, s.function) }
                return nil
            }
            let functions = python.map(\.1)
            #expect(
                functions.count == 5 && functions[0] == "Box.__init__" && functions[1].hasSuffix("<genexpr>")
                    && Array(functions.suffix(3)) == ["build", "main", "<module>"], "\(name): \(functions)")
            if python.count == 5 {
                #expect(python[1].0 > python[0].0 + 1, "\(name): C frames call __init__")
                #expect(python[2].0 > python[1].0 + 1, "\(name): C frames (sorted) resume the generator")
            }
            let last = try #require(site.frames.last, "\(name)")
            if case .source = last { Issue.record("\(name): the interpreter's own frames must come last: \(site.frames)") }
        }
    }

    /// An interpreter whose frames the tracker does not read keeps its native frames, and says so
    /// once on stderr, the program's own output untouched.
    @Test func anUnsupportedVersionSaysSoOnce() throws {
        guard let python = Self.pyenv("3.10") else {
            print("PythonTests: no CPython 3.10 here; the unsupported-version case is skipped")
            return
        }
        let script = "import json\nx = [json.dumps({'i': i}) for i in range(20000)]\nprint(len(x))"
        let (traced, _) = try record([python, "-c", script])
        #expect(traced.status == 0 && traced.stdoutText == "20000\n")
        let message = "memdrift: CPython 3.10: Python frames are read for 3.11, 3.12 and 3.13 only"
        #expect(traced.stderrText.components(separatedBy: message).count == 2, "\(traced.stderrText)")
    }

    static func executable(_ path: String) -> String? { FileManager.default.isExecutableFile(atPath: path) ? path : nil }

    /// The newest pyenv build of `version` (`3.12` finds /root/.pyenv/versions/3.12.1/bin/python3.12).
    static func pyenv(_ version: String) -> String? {
        let root = "/root/.pyenv/versions"
        let builds = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let matching = builds.filter { $0.hasPrefix(version + ".") }.sorted {
            $0.compare($1, options: .numeric) == .orderedAscending
        }
        return matching.reversed().lazy.compactMap { executable("\(root)/\($0)/bin/python\(version)") }.first
    }
}
