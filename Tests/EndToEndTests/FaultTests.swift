import Foundation
import MemdriftCore
import Testing

/// Hostile targets: fork and thread storms, exec chains, dlopen churn, signals inside malloc,
/// sudden deaths, unusable output, foreign allocators, and programs the tracker cannot enter.
@Suite(.serialized) struct FaultTests {
    @Test func forkStormGivesEveryExitingChildASeries() throws {
        let program = Built.path("fault-fork-storm")
        let (outcome, session) = try record([program, "300"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(outcome.stdoutText == "fault-fork-storm: 300 children, 0 failed\n")
        #expect(outcome.stderr.isEmpty)
        let series = try Session.open(session).series
        // The parent, and the 150 children that left through exit(); those that _exit before
        // their first snapshot leave nothing (docs/tracker.md).
        #expect(series.count == 151)
        let childWork = try symbolRange("child_work", in: program)
        var childrenWithTheirSite = 0
        for s in series {
            let last = try #require(try s.loadSnapshots().last)
            if last.stacks(withLeafIn: childWork, module: "fault-fork-storm").contains(where: { $0.liveBytes >= 512 }) {
                childrenWithTheirSite += 1
            }
        }
        #expect(childrenWithTheirSite == 150)
        try expectEverySnapshotParses(session)
    }

    @Test func vforkAndPosixSpawnStartTracedImages() throws {
        let program = Built.path("fault-spawn")
        let (outcome, session) = try record([program, "5"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(outcome.stdoutText == "fault-spawn: 10 copies, 0 failed\n")
        let series = try Session.open(session).series
        #expect(Set(series.map(\.pid)).count == 11)
        let leafWork = try symbolRange("leaf_work", in: program)
        let leaves = try series.filter { s in
            let last = try #require(try s.loadSnapshots().last)
            return last.commandLine.dropFirst().first == "leaf"
                && !last.stacks(withLeafIn: leafWork, module: "fault-spawn").isEmpty
        }
        #expect(leaves.count == 10)
    }

    @Test func anExecChainHasASeriesPerImage() throws {
        let program = Built.path("fault-exec-chain")
        let (outcome, session) = try record([program, "3"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(outcome.stdoutText == (1...3).map { "fault-exec-chain: stage \($0) of 3\n" }.joined())
        let series = try Session.open(session).series.sorted { $0.image < $1.image }
        #expect(series.map(\.image) == [1, 2, 3])
        #expect(Set(series.map(\.pid)).count == 1)
        #expect(series.map(\.name) == series.map { s in s.image == 1 ? "pid-\(s.pid)" : "pid-\(s.pid).\(s.image)" })
        let stageWork = try symbolRange("stage_work", in: program)
        for (stage, s) in zip(1..., series) {
            let last = try #require(try s.loadSnapshots().last)
            #expect(last.header.reason == (stage < 3 ? .exec : .exit))
            let live = last.stacks(withLeafIn: stageWork, module: "fault-exec-chain").reduce(0) { $0 + $1.liveBytes }
            #expect(live == UInt64(1000 * stage))
        }
    }

    @Test func thousandsOfShortLivedThreadsLoseNoCounts() throws {
        let program = Built.path("fault-threads")
        let (outcome, session) = try record([program, "3000"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(outcome.stdoutText == "fault-threads: 3000 threads, 0 failed\n")
        let series = try #require(try Session.open(session).series.first)
        let last = try #require(try series.loadSnapshots().last)
        let stacks = last.stacks(withLeafIn: try symbolRange("thread_work", in: program), module: "fault-threads")
        // 16 freed blocks and one handed block per thread; the main thread freed the handed ones.
        #expect(stacks.reduce(0) { $0 + $1.allocatedCount } == 3000 * 17)
        #expect(stacks.reduce(0) { $0 + $1.liveBytes } == 0)
    }

    @Test(arguments: ["plugin", "libz.so.1"])
    func dlopenStormWhileOtherThreadsAllocate(library: String) throws {
        let path = library == "plugin" ? Built.path("libleaky-plugin.so") : library
        let call = library == "plugin" ? ["plugin_handle_request"] : []
        let program = Built.path("fault-dlopen")
        let (outcome, session) = try record([program, path, "300"] + call)
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(outcome.stdoutText == "fault-dlopen: 300 rounds, 0 failed\n")
        let last = try #require(try Session.open(session).series.first?.loadSnapshots().last)
        #expect(
            last.stacks(withLeafIn: try symbolRange("worker", in: program), module: "fault-dlopen").reduce(0) {
                $0 + $1.allocatedCount
            } > 0)
        if library == "plugin" {
            // Every fourth request is remembered for good: 75 cache entries of 128 bytes.
            let pluginLive = last.stacks.filter { s in s.frames.contains { last.module(of: $0)?.name == "libleaky-plugin.so" } }
                .reduce(0) { $0 + $1.liveBytes }
            #expect(pluginLive == 75 * 128)
        }
    }

    @Test func signalHandlersThatAllocateDoNotDeadlockTheTracker() throws {
        let (outcome, session) = try record(
            [Built.path("fault-signals"), "3"], flags: ["-q", "--interval", "100ms"], timeout: 60)
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(outcome.stdoutText == "fault-signals: signals handled\n")
        let series = try #require(try Session.open(session).series.first)
        #expect(series.snapshotPaths.count >= 2)
        try expectEverySnapshotParses(session)
    }

    @Test func exitAndUnderscoreExitKeepTheirCodeAndWriteAFinalSnapshot() throws {
        for (how, code) in [("exit", 3), ("_exit", 4)] {
            let (outcome, session) = try record([Built.path("fault-die"), how, String(code)])
            #expect(outcome.status == Int32(code))
            #expect(outcome.stdoutText == "fault-die: \(how) \(code)\n")
            let last = try #require(try Session.open(session).series.first?.loadSnapshots().last)
            #expect(last.header.reason == .exit && last.header.isFinal)
        }
    }

    @Test func suddenDeathLeavesOnlyCompleteSnapshots() throws {
        // Deaths at arbitrary points of the 100 ms snapshot cycle, from a fixed seed; fault-die
        // writes one snapshot on request before it starts the deadly loop.
        var generator = SplitMix64(seed: 0x6d656d64)
        for round in 0..<8 {
            let how = round % 4 == 3 ? "abort" : "kill"
            let micros = Int.random(in: 0..<500_000, using: &generator)
            let session = try scratchDirectory() + "/session"
            let outcome = try launch(
                Built.memdrift,
                ["run", "-q", "--interval", "100ms", "-o", session, "--", Built.path("fault-die"), how, String(micros)],
                environment: ["SWIFT_BACKTRACE": "enable=no"])
            #expect(outcome.status == (how == "abort" ? 134 : 137), "\(how) after \(micros) us")
            let series = try #require(try Session.open(session).series.first, "\(how) after \(micros) us")
            #expect(series.snapshotPaths.count >= 1)
            // Tracking starts with a snapshot of its own; the one fault-die asked for is among the first two.
            let reasons = try series.snapshotPaths.prefix(2).map { try SnapshotReader.read(path: $0).header.reason }
            #expect(reasons.contains(.api) || reasons == [.start], "\(reasons)")
            try expectEverySnapshotParses(session)
        }
    }

    @Test func aFullFilesystemIsReportedOnceAndTheProgramCarriesOn() throws {
        let mountPoint = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: mountPoint) }
        let mounted = try launch("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint])
        guard mounted.status == 0 else {
            print(
                "FaultTests: skipping the full-filesystem case: cannot mount a tmpfs (\(mounted.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)))"
            )
            return
        }
        defer { _ = try? launch("/bin/umount", [mountPoint]) }
        let output = mountPoint + "/session"
        try FileManager.default.createDirectory(
            atPath: output, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        // Fill it up: write until the filesystem refuses.
        let filler = open(mountPoint + "/filler", O_WRONLY | O_CREAT, 0o600)
        try #require(filler >= 0)
        let block = [UInt8](repeating: 0, count: 4096)
        while write(filler, block, block.count) > 0 {}
        close(filler)
        let outcome = try trackedDirectly(output: output)
        #expect(outcome.status == 3)
        #expect(outcome.stdoutText == "fault-die: exit 3\n")
        let lines = outcome.stderrText.split(separator: "\n")
        #expect(
            lines.count == 1
                && lines.first?.contains("No space left on device; tracking stopped, the program continues untracked") == true,
            "\(outcome.stderrText)")
    }

    @Test func anOutputPathThatIsAFileIsReportedOnce() throws {
        let file = try scratchDirectory() + "/not-a-directory"
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        let outcome = try trackedDirectly(output: file)
        #expect(outcome.status == 3)
        #expect(outcome.stdoutText == "fault-die: exit 3\n")
        #expect(
            outcome.stderrText
                == "memdrift: unusable output directory \(file): Not a directory; tracking stopped, the program continues untracked\n"
        )

        let refused = try launch(Built.memdrift, ["run", "-q", "-o", file, "--", Built.path("fault-die"), "exit", "3"])
        #expect(refused.status == 2)
        #expect(refused.stderrText.split(separator: "\n").count == 1 && refused.stderrText.contains("is not a directory"))
    }

    /// fault-threads with `library` preloaded, plain and under `memdrift run` (which puts the tracker
    /// first); nil when the library is not installed.
    private func runWithPreloadedAllocator(_ library: String, package: String) throws
        -> (plain: Outcome, traced: Outcome, session: String)?
    {
        guard FileManager.default.fileExists(atPath: library) else {
            print("FaultTests: skipping \(library): not installed (scripts/setup.sh \(package))")
            return nil
        }
        let program = Built.path("fault-threads")
        let plain = try launch(program, ["200"], environment: ["LD_PRELOAD": library])
        let session = try scratchDirectory() + "/session"
        let traced = try launch(
            Built.memdrift, ["run", "-q", "-o", session, "--", program, "200"], environment: ["LD_PRELOAD": library])
        return (plain, traced, session)
    }

    @Test func aPreloadedJemallocNeitherCrashesNorHidesMalloc() throws {
        let library = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
        guard let (plain, traced, session) = try runWithPreloadedAllocator(library, package: "libjemalloc2") else { return }
        #expect(traced.status == 0 && plain.status == 0, "\(traced.stderrText)")
        #expect(traced.stdout == plain.stdout)
        #expect(traced.stderr == plain.stderr)
        // The tracker comes first in LD_PRELOAD, so malloc and free resolve to it and glibc serves
        // them; what jemalloc gets through its own entry points is not seen.
        let last = try #require(try Session.open(session).series.first?.loadSnapshots().last)
        let program = Built.path("fault-threads")
        let stacks = last.stacks(withLeafIn: try symbolRange("thread_work", in: program), module: "fault-threads")
        #expect(stacks.reduce(0) { $0 + $1.allocatedCount } == 200 * 17)
        #expect(last.modules.contains { $0.name == "libjemalloc.so.2" })
    }

    @Test func tcmallocServingMallocIsSaidOnceAndTheProgramRunsUntracked() throws {
        let library = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
        guard let (plain, traced, session) = try runWithPreloadedAllocator(library, package: "libtcmalloc-minimal4")
        else { return }
        // gperftools defines glibc's __libc_malloc too: its blocks cannot carry the tracker's tags.
        #expect(traced.status == 0 && plain.status == 0)
        #expect(traced.stdout == plain.stdout)
        #expect(
            traced.stderrText
                == "memdrift: malloc is served by \(library), not glibc: Operation not supported; tracking stopped, the program continues untracked\n"
        )
        #expect(try Session.open(session).series.isEmpty)
    }

    @Test func aStaticProgramIsRunButSaidToBeUntraceable() throws {
        let dir = try scratchDirectory()
        try Data(
            "#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\nint main(void) { puts(malloc(8) ? \"static\" : \"none\"); fflush(stdout); usleep(1500000); return 5; }\n"
                .utf8
        )
        .write(to: URL(fileURLWithPath: dir + "/main.c"))
        let built = try launch("/usr/bin/cc", ["-static", "-o", dir + "/static-program", dir + "/main.c"])
        try #require(built.status == 0, "cc -static failed: \(built.stderrText)")
        let (outcome, session) = try record([dir + "/static-program"], flags: ["--interval", "500ms"])
        #expect(outcome.status == 5)
        #expect(outcome.stdoutText == "static\n")
        let lines = outcome.stderrText.split(separator: "\n").map(String.init)
        #expect(
            lines.first
                == "memdrift: \(dir)/static-program is statically linked; LD_PRELOAD cannot load the tracker into it, so only its memory figures (RSS) are recorded, from /proc"
        )
        // Its RSS is sampled from /proc instead: a series of observed snapshots, figures only.
        let series = try #require(try Session.open(session).series.first)
        let snapshots = try series.loadSnapshots()
        #expect(snapshots.count >= 2)
        #expect(snapshots.allSatisfy { $0.header.isObserved && $0.stacks.isEmpty && $0.figures.rss > 0 })
        #expect(snapshots.first?.executable == dir + "/static-program")
    }

    @Test func aSetuidProgramIsRunButSaidToBeUntraceable() throws {
        guard geteuid() == 0 else {
            print("FaultTests: skipping the setuid case: it needs root to chown a copy to nobody")
            return
        }
        let dir = try scratchDirectory()
        let copy = dir + "/setuid-program"
        try FileManager.default.copyItem(atPath: Built.path("fault-die"), toPath: copy)
        try #require(chmod(dir, 0o755) == 0 && chown(copy, 65534, 65534) == 0 && chmod(copy, 0o4755) == 0)
        let (outcome, session) = try record([copy, "exit", "3"])
        #expect(outcome.status == 3)
        #expect(outcome.stdoutText == "fault-die: exit 3\n")
        #expect(
            outcome.stderrText.split(separator: "\n").map(String.init) == [
                "memdrift: \(copy) is setuid; the loader ignores LD_PRELOAD for it and the tracker stays off under secure execution, so only its memory figures (RSS) are recorded, from /proc"
            ])
        // Gone before the first /proc sample, or sampled from outside: never by the tracker.
        for series in try Session.open(session).series {
            #expect(try series.loadSnapshots().allSatisfy(\.header.isObserved))
        }
    }

    /// Runs fault-die under the tracker without `memdrift run`, writing into `output`.
    private func trackedDirectly(output: String) throws -> Outcome {
        try launch(
            Built.path("fault-die"), ["exit", "3"], environment: ["LD_PRELOAD": Built.tracker, "MEMDRIFT_OUTPUT": output])
    }
}

/// Fails the test unless every snapshot file in the session decodes.
func expectEverySnapshotParses(_ session: String) throws {
    let enumerator = FileManager.default.enumerator(atPath: session)
    var count = 0
    while let relative = enumerator?.nextObject() as? String {
        let name = (relative as NSString).lastPathComponent
        guard name.hasPrefix("snap-") && name.hasSuffix(".mds") else { continue }
        count += 1
        #expect(throws: Never.self, "\(relative)") { _ = try SnapshotReader.read(path: session + "/" + relative) }
    }
    #expect(count >= 1)
}
