import Foundation
import MemdriftCore
import MemdriftTestSupport
import Testing

@Suite(.serialized) struct TrackerTests {
    @Test func fourThreadsWithCrossThreadFreesBalanceExactly() throws {
        let program = Built.path("thread-stress")
        let (outcome, session) = try record([program, "100000"])
        #expect(outcome.status == 0)
        let series = try #require(try Session.open(session).series.first)
        let last = try #require(try series.loadSnapshots().last)
        #expect(last.header.isFinal)
        let kept = last.stacks(withLeafIn: try symbolRange("keep_one", in: program), module: "thread-stress")
        #expect(kept.reduce(0) { $0 + $1.liveBytes } == 4 * 777)
        #expect(kept.reduce(0) { $0 + $1.liveCount } == 4)
        let work = last.stacks(withLeafIn: try symbolRange("work_item", in: program), module: "thread-stress")
        #expect(work.reduce(0) { $0 + $1.allocatedCount } == 400_000)
        #expect(work.reduce(0) { $0 + $1.liveBytes } == 0)
        #expect(last.figures[.threadsSeen] >= 5)
    }

    /// The tracker goes into programs that load nothing but libc: every symbol it needs must come
    /// from glibc (versioned) or from libunwind, never from libm or another library.
    @Test func theTrackerNeedsOnlyLibcAndLibunwind() throws {
        let symbols = try launch("/usr/bin/nm", ["-D", "--undefined-only", Built.tracker])
        try #require(symbols.status == 0)
        for line in symbols.stdoutText.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2, fields[0] == "U" else { continue }
            let name = fields[1]
            #expect(name.contains("@GLIBC_") || name.hasPrefix("_U") || name.hasPrefix("unw_"), "\(name)")
        }
    }

    /// Anywhere but x86_64 Linux the tracker's build stops at once, saying why.
    @Test func theTrackerBuildsOnlyForX86_64Linux() throws {
        let header = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/MemdriftTracker/tracker.h").standardizedFileURL.path
        let directory = (header as NSString).deletingLastPathComponent
        func compile(_ target: String) throws -> Outcome {
            try launch(
                "/usr/bin/env",
                [
                    "clang", "--target=\(target)", "-fsyntax-only", "-x", "c", "-I", directory, "-I", directory + "/include",
                    header,
                ])
        }
        let here = try compile("x86_64-linux-gnu")
        #expect(here.status == 0, "\(here.stderrText)")
        for target in ["aarch64-linux-gnu", "i686-linux-gnu", "x86_64-apple-macos"] {
            let elsewhere = try compile(target)
            #expect(elsewhere.status != 0)
            #expect(elsewhere.stderrText.contains("error: \"memdrift's tracker supports x86_64 Linux only: "), "\(target)")
        }
    }

    @Test func everyAllocationEntryPointKeepsItsContractAndIsCounted() throws {
        let program = Built.path("alloc-api")
        let (outcome, session) = try record([program])
        #expect(outcome.status == 0)
        #expect(outcome.stdoutText == "alloc-api: ok\n")
        let last = try #require(try Session.open(session).series.first?.loadSnapshots().last)
        func live(_ site: String) throws -> (bytes: UInt64, count: UInt64) {
            let stacks = last.stacks(withLeafIn: try symbolRange(site, in: program), module: "alloc-api")
            return (stacks.reduce(0) { $0 + $1.liveBytes }, stacks.reduce(0) { $0 + $1.liveCount })
        }
        #expect(try live("keep_malloc") == (100, 1))
        #expect(try live("keep_aligned") == (1000, 1))
        #expect(try live("keep_realloc") == (300, 1))
        let exercised = try live("exercise")
        #expect(exercised == (0, 0))
        let allocated = last.stacks(withLeafIn: try symbolRange("exercise", in: program), module: "alloc-api")
            .reduce(0) { $0 + $1.allocatedCount }
        // 136 sizes x (malloc + 2 reallocs), calloc, malloc before realloc(p, 0), realloc(NULL),
        // 7 alignments x (posix_memalign, realloc, aligned_alloc, memalign), valloc, pvalloc.
        #expect(allocated == 136 * 3 + 3 + 7 * 4 + 2)
        // Every live recorded block carries a 16-byte tag, the 4096-aligned one 4096 bytes.
        #expect(last.figures.tagBytes == 16 * (last.figures.heapLiveCount - 1) + 4096)
    }

    @Test func everyForkedChildRecordsItsOwnSeries() throws {
        let program = Built.path("fork-children")
        let (outcome, session) = try record([program, "50", "20"])
        #expect(outcome.status == 0)
        let all = try Session.open(session).series
        #expect(all.count == 51)
        let work = try symbolRange("child_work", in: program)
        var sizes: Set<UInt64> = []
        for s in all {
            let last = try #require(try s.loadSnapshots().last)
            for stack in last.stacks(withLeafIn: work, module: "fork-children") where stack.liveCount == 1 {
                sizes.insert(stack.liveBytes)
            }
        }
        #expect(sizes == Set((1...50).map { UInt64($0) * 1024 }))
    }

    @Test func killNineLeavesOnlyReadableSnapshots() throws {
        for delay in [150_000, 420_000, 730_000, 1_050_000] as [UInt32] {
            let session = try scratchDirectory()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Built.path("leaky-server"))
            process.arguments = ["0", "5000"]
            process.environment = ["LD_PRELOAD": Built.tracker, "MEMDRIFT_OUTPUT": session, "MEMDRIFT_INTERVAL_MS": "100"]
            process.standardOutput = FileHandle.nullDevice
            try process.runWithSignalsUnblocked()
            usleep(delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let series = try Session.open(session).series
            #expect(series.count == 1)
            for path in series.flatMap(\.snapshotPaths) { _ = try SnapshotReader.read(path: path) }
        }
    }

    @Test func anExecChainGetsASeriesPerImage() throws {
        let steady = Built.path("steady")
        let (outcome, session) = try record(["/bin/sh", "-c", "\(steady) 0.3 >/dev/null; exec \(steady) 0.3"])
        #expect(outcome.status == 0)
        let series = try Session.open(session).series
        let images = Dictionary(grouping: series, by: \.pid).values.first { $0.count == 2 }
        let pair = try #require(images).sorted { $0.image < $1.image }
        #expect(try pair[0].loadSnapshots().last?.header.reason == .exec)
        #expect(try pair[1].loadSnapshots().last?.executable == steady)
        #expect(series.count == 3)  // sh, its forked child running steady, and sh's exec'd image
    }

    @Test func anUnusableOutputDirectoryIsReportedOnceAndTheProgramRunsOn() throws {
        let dir = try scratchDirectory()
        _ = FileManager.default.createFile(atPath: "\(dir)/not-a-directory", contents: nil)
        let environment = [
            "LD_PRELOAD": Built.tracker, "MEMDRIFT_OUTPUT": "\(dir)/not-a-directory", "MEMDRIFT_INTERVAL_MS": "100",
        ]
        let traced = try launch(Built.path("leaky-server"), ["0.5"], environment: environment)
        #expect(traced.status == 0)
        #expect(traced.stdoutText.hasPrefix("leaky-server: "))
        let lines = traced.stderrText.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(
            lines.first?.hasPrefix(
                "memdrift: unusable output directory \(dir)/not-a-directory: Not a directory; tracking stopped") == true)
    }

    @Test func withoutAnOutputDirectoryTheTrackerStaysOff() throws {
        let traced = try launch(Built.path("steady"), ["0.2"], environment: ["LD_PRELOAD": Built.tracker])
        #expect(traced.status == 0)
        #expect(traced.stderr.isEmpty)
        // The exec hooks still forward: env runs its command through execvp.
        let chained = try launch("/usr/bin/env", ["/bin/echo", "ran"], environment: ["LD_PRELOAD": Built.tracker])
        #expect(chained.status == 0)
        #expect(chained.stdoutText == "ran\n")
        #expect(chained.stderr.isEmpty)
    }
}
