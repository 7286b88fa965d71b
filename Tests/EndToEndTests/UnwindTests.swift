import Foundation
import Testing

/// The tracker's own stack walker (cfi_*.c) against libunwind inside real programs: a preloaded
/// checker (Tests/TrackerC/unwind-check.c) takes both stacks on every allocation and counts
/// agreements, fallbacks to libunwind and mismatches, which must never happen, and how many
/// walks took remembered frames beyond an anchor (`CFI_CHECK_ANCHOR`).
@Suite(.serialized) struct UnwindTests {
    struct Counts {
        var agreed = 0, fallbacks = 0, mismatches = 0, joined = 0
    }

    static let checker = build(
        "unwind-check.so",
        [
            "-shared", "-fPIC", "-O2", "-D_GNU_SOURCE", "-DMD_CFI_DIAGNOSTICS", "-I" + tracker, "-I" + tracker + "/include",
            repositoryRoot + "/Tests/TrackerC/unwind-check.c", tracker + "/cfi_eh_frame.c", tracker + "/cfi_cache.c",
            tracker + "/cfi_walk.c", tracker + "/memory.c", "-lunwind", "-lpthread",
        ])

    /// Tests/TrackerC/anchor-paths.c, built with its anchor exported.
    static let anchorPaths = build(
        "anchor-paths", ["-O2", "-rdynamic", repositoryRoot + "/Tests/TrackerC/anchor-paths.c", "-lpthread"])

    static let tracker = repositoryRoot + "/Sources/MemdriftTracker"

    /// Builds `name` in a scratch directory with cc and `arguments`.
    static func build(_ name: String, _ arguments: [String]) -> Result<String, CheckerBuildError> {
        guard let dir = try? scratchDirectory() else { return .failure(CheckerBuildError(message: "no scratch directory")) }
        let output = dir + "/" + name
        guard let built = try? launch("/usr/bin/cc", arguments + ["-o", output]), built.status == 0 else {
            return .failure(CheckerBuildError(message: "cc failed"))
        }
        return .success(output)
    }

    struct CheckerBuildError: Error { let message: String }

    /// Runs `command` with the checker preloaded; returns the summed counts of every process.
    func check(_ command: [String], environment: [String: String] = [:]) throws -> (Outcome, Counts) {
        let library = try Self.checker.get()
        let log = try scratchDirectory() + "/counts.log"
        var env = environment
        env["LD_PRELOAD"] = library
        env["CFI_CHECK_LOG"] = log
        let outcome = try launch(command[0], Array(command.dropFirst()), environment: env)
        let sums = summedFields(ofLog: log)
        let counts = Counts(
            agreed: sums["agreed"] ?? 0, fallbacks: sums["fallback"] ?? 0, mismatches: sums["mismatch"] ?? 0,
            joined: sums["joined"] ?? 0)
        return (outcome, counts)
    }

    @Test func cpythonStacksAgreeWithLibunwind() throws {
        let script = """
            import json, threading
            def work(n):
                records = [{"id": i, "tags": ["t%d" % (i % 7)]} for i in range(n)]
                return len(json.loads(json.dumps(records)))
            threads = [threading.Thread(target=work, args=(20000,)) for _ in range(3)]
            for t in threads: t.start()
            for t in threads: t.join()
            print(work(10000))
            """
        let (outcome, counts) = try check(
            ["/usr/bin/python3", "-c", script],
            environment: ["PYTHONMALLOC": "malloc", "CFI_CHECK_ANCHOR": "_PyEval_EvalFrameDefault"])
        #expect(outcome.status == 0 && outcome.stdoutText == "10000\n", "\(outcome.stderrText)")
        #expect(counts.mismatches == 0, "\(outcome.stderrText)")
        #expect(counts.fallbacks == 0)
        #expect(counts.agreed > 200_000)
        #expect(counts.joined > counts.agreed / 2, "the evaluation loop's outer frames are remembered")
    }

    /// Paths that differ only beyond the anchor: the same caller from two sites, frames sized at
    /// run time (the anchor's own too, so its rbp moves while its sp stays), recursion, threads.
    @Test func rememberedWalksJoinOnlyIdenticalStacks() throws {
        let program = try Self.anchorPaths.get()
        let (outcome, counts) = try check([program, "20000"], environment: ["CFI_CHECK_ANCHOR": "anchor_work"])
        #expect(outcome.status == 0 && outcome.stdoutText == "20000\n", "\(outcome.stderrText)")
        #expect(counts.mismatches == 0, "\(outcome.stderrText)")
        #expect(counts.fallbacks == 0)
        #expect(counts.agreed > 150_000)
        #expect(counts.joined > 20_000)
    }

    /// 20,000 rows inserted into sqlite3's `:memory:` and scanned.
    static let sqliteScript = """
        create table t(a integer primary key, b text);
        with recursive c(x) as (select 1 union all select x + 1 from c where x < 20000)
        insert into t select x, hex(randomblob(24)) from c;
        select count(*) from t where b like '%AB%' or a % 2 = 0 > 0;
        """

    @Test func sqliteStacksAgreeWithLibunwind() throws {
        let (outcome, counts) = try check(
            ["/usr/bin/sqlite3", ":memory:", Self.sqliteScript], environment: ["CFI_CHECK_ANCHOR": "sqlite3_step"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(counts.mismatches == 0, "\(outcome.stderrText)")
        #expect(counts.fallbacks == 0)
        #expect(counts.agreed > 10_000)
        #expect(counts.joined > 0)
    }

    @Test func cppThreadsAndExamplesAgreeWithLibunwind() throws {
        for command in [
            [Built.path("stl-churn"), "2"], [Built.path("thread-stress"), "20000"], [Built.path("leaky-cpp"), "0.5"],
        ] {
            let (outcome, counts) = try check(command)
            #expect(outcome.status == 0, "\(command[0]): \(outcome.stderrText)")
            #expect(counts.mismatches == 0, "\(command[0]): \(outcome.stderrText)")
            #expect(counts.fallbacks == 0, "\(command[0])")
            #expect(counts.agreed > 1000, "\(command[0])")
        }
    }

    @Test func dlcloseStormKeepsStacksRight() throws {
        let (outcome, counts) = try check([
            Built.path("fault-dlopen"), Built.path("libleaky-plugin.so"), "200", "plugin_remember_request",
        ])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(counts.mismatches == 0, "\(outcome.stderrText)")
        #expect(counts.agreed > 1000)
    }

    @Test func signalHandlersFallBackToLibunwindAndNeverMismatch() throws {
        // The test runner's threads block SIGALRM and a spawned child inherits that mask: clear it.
        let unblocked =
            "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
        let (outcome, counts) = try check(["/usr/bin/python3", "-c", unblocked, Built.path("fault-signals"), "1"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(counts.mismatches == 0, "\(outcome.stderrText)")
        #expect(counts.fallbacks > 0)
        #expect(counts.agreed > 1000)
    }
}
