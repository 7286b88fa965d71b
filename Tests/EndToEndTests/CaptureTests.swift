import Foundation
import Testing

/// Remembered captures (Sources/MemdriftTracker/captures.c) inside real programs: the whole tracker,
/// built with `MD_CAPTURES_CHECK`, takes every capture it answers from memory afresh as well and
/// counts the stack ids that differ, which must never happen, and how many captures were answered
/// from memory, which must be most of them.
@Suite(.serialized, .tags(.slow)) struct CaptureTests {
    struct Counts {
        var hits = 0, misses = 0, mismatches = 0
    }

    static let tracker = repositoryRoot + "/Sources/MemdriftTracker"

    /// The tracker with the check, built with cc from its sources.
    static let checked: Result<String, UnwindTests.CheckerBuildError> = {
        let sources = ((try? FileManager.default.contentsOfDirectory(atPath: tracker)) ?? [])
            .filter { $0.hasSuffix(".c") }.sorted().map { tracker + "/" + $0 }
        return UnwindTests.build(
            "captures-check.so",
            [
                "-shared", "-fPIC", "-O2", "-D_GNU_SOURCE", "-DMD_CAPTURES_CHECK", "-fvisibility=hidden",
                "-ftls-model=initial-exec", "-fno-omit-frame-pointer", "-fno-plt", "-I" + tracker,
                "-I" + tracker + "/include",
            ] + sources + ["-lunwind", "-lpthread"])
    }()

    /// Runs `command` with the checked tracker preloaded; returns the summed counts of every process.
    func check(_ command: [String], environment: [String: String] = [:]) throws -> (Outcome, Counts) {
        let library = try Self.checked.get()
        let dir = try scratchDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/session", withIntermediateDirectories: true)
        var env = environment
        env["LD_PRELOAD"] = library
        env["MEMDRIFT_OUTPUT"] = dir + "/session"
        env["CAPTURES_CHECK_LOG"] = dir + "/counts.log"
        let outcome = try launch(command[0], Array(command.dropFirst()), environment: env)
        let sums = summedFields(ofLog: dir + "/counts.log")
        return (outcome, Counts(hits: sums["hits"] ?? 0, misses: sums["misses"] ?? 0, mismatches: sums["mismatches"] ?? 0))
    }

    /// The same lines at several depths of recursion, Python called back from C (a generator that
    /// `sorted` resumes, a key function, `__init__`), code objects freed and compiled again at the
    /// same addresses with other lines, exceptions, three threads and a forked child.
    static let script = """
        import json, os, sys, threading

        def build(n):
            return [{"id": i, "tags": ["t%d" % (i % 7)]} for i in range(n)]

        def deep(k, n):
            return build(n) if k == 0 else deep(k - 1, n)

        def words(n):
            for i in range(n):
                yield ("w%d" % i) * 2

        class Node:
            def __init__(self, v):
                self.v = [v] * 3

        def work(seed):
            total = 0
            for r in range(100):
                total += len(deep((r + seed) % 5, 200))
                total += len(sorted(words(150), key=lambda s: s[::-1]))
                total += len([Node(i) for i in range(150)])
                source = "def f(x):\\n" + "    pass\\n" * (r % 4) + "    return [str(x)] * %d\\n" % (r % 5 + 1)
                space = {}
                exec(compile(source, "<dynamic %d>" % (r % 2), "exec"), space)
                total += len(space["f"](r))
                try:
                    raise ValueError("x" * r)
                except ValueError as error:
                    total += len(str(error))
            return total

        threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
        for t in threads: t.start()
        for t in threads: t.join()
        child = os.fork()
        if child == 0:
            work(7)
            sys.exit(0)
        os.waitpid(child, 0)
        print(len(json.loads(json.dumps(build(3000)))))
        """

    @Test(arguments: PythonTests.interpreters)
    func pythonCapturesFromMemoryAreTheCapturesTakenAfresh(_ interpreter: (name: String, path: String?)) throws {
        guard let python = interpreter.path else {
            print("CaptureTests: CPython \(interpreter.name) is not installed; skipped")
            return
        }
        let (outcome, counts) = try check([python, "-c", Self.script])
        #expect(outcome.status == 0 && outcome.stdoutText == "3000\n", "\(outcome.stderrText)")
        #expect(counts.mismatches == 0, "\(interpreter.name): \(counts)")
        #expect(counts.hits > 100_000, "\(interpreter.name): \(counts)")
        #expect(counts.hits > 4 * counts.misses, "\(interpreter.name): \(counts)")
    }

    /// Tests/TrackerC/capture-paths.c: two stacks told apart only by the rbp their walks start from.
    static let capturePaths = UnwindTests.build(
        "capture-paths", ["-O2", repositoryRoot + "/Tests/TrackerC/capture-paths.c"])

    /// Native programs: two stacks told apart only by the starting rbp (capture-paths.c), frames
    /// sized at run time and paths that differ only beyond an anchor (anchor-paths.c, whose stacks
    /// are seldom the same twice), C++ threads, sqlite3, and a library unloaded and loaded again.
    @Test func nativeCapturesFromMemoryAreTheCapturesTakenAfresh() throws {
        let mostlyRemembered: [[String]] = [
            [try Self.capturePaths.get(), "20000"], [Built.path("thread-stress"), "20000"],
            [Built.path("stl-churn"), "2"], ["/usr/bin/sqlite3", ":memory:", UnwindTests.sqliteScript],
            [Built.path("fault-dlopen"), Built.path("libleaky-plugin.so"), "200", "plugin_remember_request"],
        ]
        for command in mostlyRemembered + [[try UnwindTests.anchorPaths.get(), "20000"]] {
            let (outcome, counts) = try check(command)
            let name = (command[0] as NSString).lastPathComponent
            #expect(outcome.status == 0, "\(name): \(outcome.stderrText)")
            #expect(counts.mismatches == 0, "\(name): \(counts)")
            #expect(counts.hits > (mostlyRemembered.contains(command) ? counts.misses : 0), "\(name): \(counts)")
        }
    }
}
