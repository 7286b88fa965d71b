import Foundation
import MemdriftCore
import MemdriftSymbolization
import MemdriftTestSupport
import Testing

@testable import MemdriftAnalysis

func judge(_ t: ProcessTimeline, options: AnalysisOptions = AnalysisOptions()) -> ProcessAnalysis {
    Judge(names: StackSymbolizer(), options: options).judge(t)
}

/// Live bytes per sample of a leaking, a flat and a bounded (cache) call site.
let leak = (0..<40).map { Int64(10_000 + $0 * 4_000) }
let flat = [Int64](repeating: 500_000, count: 40)
let cache = (0..<40).map { Int64(min($0, 10) * 50_000) }
/// A batch of 2 MiB filled and flushed every 8 samples: the heap total is a sawtooth.
let batch = (0..<40).map { Int64(($0 % 8) * 262_144) }

@Suite struct JudgeTests {
    @Test func aGrowingCallSiteIsTheSuspectAndTheProcessLeaks() throws {
        let p = judge(timeline(sites: [flat, leak, cache]))
        #expect(p.verdict == .leak)
        #expect(p.suspects.count == 1)
        #expect(p.suspects.first?.bytesAtEnd == leak[39])
        #expect(p.otherGrowth.map(\.trend.classification) == [.bounded])
        #expect(p.suspects.first?.frames.first?.note == "module missing")
        #expect(p.sampleCount == 40 && p.judgedCount == 40)
    }

    /// A leak under a sawtooth heap is still a leak: a call site's trend decides, whatever the total does.
    @Test func aLeakingCallSiteUnderASawtoothHeapIsALeak() throws {
        let slow = (0..<40).map { Int64(10_000 + $0 * 1_000) }
        let p = judge(timeline(sites: [slow, batch, flat]))
        #expect(p.heap?.trend.classification == .sawtooth)
        #expect(p.verdict == .leak)
        #expect(p.suspects.first?.bytesAtEnd == slow[39])
        // The gate's slope of a sawtooth is its floor's, which the leak lifts.
        #expect((p.heap?.trend.sustainedSlopePerSecond ?? 0) > 500)
        var t = GateThresholds()
        t.failOn = []
        t.maxHeapSlope = 1024 * 1024  // the floor rises ~3.6 MiB/h
        #expect(!Gate.evaluate(SessionAnalysis(path: "s", processes: [p], warnings: []), thresholds: t).passed)
    }

    /// Accepted growth is not growth: a process whose only growth is suppressed is stable, and
    /// the suppressed call site is listed with the pattern that accepted it.
    @Test func suppressedGrowthLeavesAStableProcess() throws {
        var options = AnalysisOptions()
        options.suppressions = try Suppressions(text: "# accepted\nleak:^app$\n", path: "s.supp")
        let p = judge(timeline(sites: [flat, leak]), options: options)
        #expect(p.suspects.isEmpty)
        #expect(p.otherGrowth.first?.suppressedBy == "^app$")
        #expect(p.verdict == .stable)
        #expect(p.reason.contains("accepted"))
        var t = GateThresholds()
        t.failOn = [.leak, .growth]
        t.maxHeapSlope = 1024 * 1024
        t.maxRSSSlope = 1024 * 1024
        t.maxHeapGrowth = .bytes(64 * 1024)
        let gate = Gate.evaluate(SessionAnalysis(path: "s", processes: [p], warnings: []), thresholds: t)
        #expect(gate.passed, "\(gate.checks.filter { !$0.passed }.map(\.message))")
    }

    /// V8 maps the pages its heap grows into: the JavaScript function that fills them is named
    /// first, even when the pages (counted as mapped memory) grew more.
    @Test func aRuntimeHeapsSitesComeBeforeTheMappingsThatHoldThem() throws {
        var t = timeline(sites: [flat, leak])
        let pages = try #require(t.attributed[.heapMalloc])
        t.attributed[.heapMapped] = pages  // the same sites, as mapped memory
        var js = AttributedMetric()
        let site = js.index(of: CallSite(frames: [.source(SourceFrame(runtime: "js", function: "keep", file: "/a.js", line: 3))]))
        for i in 0..<40 {
            js.record(SiteCounters(liveBytes: Int64(1_000 + i * 1_000), liveCount: Int64(i)), site: site, at: i)
            t.samples[i].metrics[.jsHeap] = Double(1_000 + i * 1_000)
            t.samples[i].metrics[.heapMapped] = t.samples[i].metrics[.heapMalloc]
        }
        t.attributed[.jsHeap] = js
        let p = judge(t)
        let metrics = p.suspects.map(\.metric)
        let first = try #require(metrics.firstIndex(of: .jsHeap)), mapped = try #require(metrics.firstIndex(of: .heapMapped))
        // The mapped leak grew more (156 KiB against 39 KiB), yet the JavaScript site comes first.
        #expect(first < mapped)
    }

    /// Teardown frees everything: the final snapshot is shown, never judged.
    @Test func theFinalSnapshotOfAnExitingProcessNeverDragsTheTrend() throws {
        let p = judge(timeline(sites: [flat, leak], teardown: [0, 0]))
        #expect(p.verdict == .leak)
        #expect(p.sampleCount == 41 && p.judgedCount == 40)
        let heap = try #require(p.heap)
        #expect(heap.end == Double(flat[39] + leak[39]))
        #expect(heap.atTeardown == 0)
        #expect(heap.trend.slopePerSecond > 0)
        let suspect = try #require(p.suspects.first)
        #expect(suspect.growthBytes > 0 && suspect.growthCount > 0)
        #expect(suspect.bytesAtEnd == leak[39])
    }

    @Test func growthInSharedMemoryIsNotGrowthOfItsOwn() throws {
        let shmem = (0..<40).map { Double($0) * 512 * 1024 }
        let rss = shmem.map { $0 + 30_000_000 }
        let p = judge(timeline(sites: [flat], rss: rss, shmem: shmem))
        #expect(p.rss?.trend.classification == .leak)
        #expect(p.verdict == .stable)
        #expect(p.reason.contains("shared memory"))
        #expect((p.explanation?.sharedGrowth ?? 0) > 10_000_000)
    }

    @Test func rssGrowthNoCallSiteExplainsIsGrowth() throws {
        let rss = (0..<40).map { 30_000_000 + Double($0) * 512 * 1024 }
        let p = judge(timeline(sites: [flat], rss: rss))
        #expect(p.verdict == .growth)
        #expect(p.explanation?.fraction ?? 1 < 0.01)
    }

    @Test func tooFewSnapshotsAreInconclusive() throws {
        let p = judge(timeline(sites: [Array(leak.prefix(4))]))
        #expect(p.verdict == .inconclusive)
        #expect(p.reason.contains("needed"))
    }

    @Test func gateChecksEachThreshold() throws {
        let analysis = SessionAnalysis(path: "s", processes: [judge(timeline(sites: [flat, leak]))], warnings: [])
        var t = GateThresholds()
        #expect(!Gate.evaluate(analysis, thresholds: t).passed)  // leak fails by default
        t.failOn = []
        #expect(Gate.evaluate(analysis, thresholds: t).passed)
        t.maxHeapSlope = 100 * 1024 * 1024  // 4 kB/s is about 14 MiB/h
        #expect(Gate.evaluate(analysis, thresholds: t).passed)
        t.maxHeapSlope = 1024 * 1024
        let slow = Gate.evaluate(analysis, thresholds: t)
        #expect(!slow.passed)
        #expect(slow.checks.first { !$0.passed }?.name == "heap slope")
        t.maxHeapSlope = nil
        t.maxHeapGrowth = .percent(1)
        #expect(!Gate.evaluate(analysis, thresholds: t).passed)
        t.maxHeapGrowth = .bytes(1 << 30)
        t.maxRSS = 1 << 20
        #expect(Gate.evaluate(analysis, thresholds: t).checks.map(\.passed) == [true, true, false])
    }

    @Test func leakingProcessesComeFirst() throws {
        let session = SessionTimelines(
            path: "s", processes: [timeline(sites: [flat], pid: 1), timeline(sites: [flat, leak], pid: 2)])
        let analysis = Judge(names: StackSymbolizer()).judge(session)
        #expect(analysis.processes.map(\.pid) == [2, 1])
        #expect(analysis.verdict == .leak)
    }
}

@Suite struct SuppressionsTests {
    @Test func parsesLeakSanitizerFiles() throws {
        let s = try Suppressions(text: "# comment\n\nleak:remember_error\n  leak: libfoo.so \n", path: "x")
        #expect(s.patterns == ["remember_error", "libfoo.so"])
        #expect(throws: SuppressionError.self) { try Suppressions(text: "race:foo\n", path: "x") }
        #expect(throws: SuppressionError.self) { try Suppressions(text: "remember_error\n", path: "x") }
        #expect(throws: SuppressionError.self) { try Suppressions(text: "leak:\n", path: "x") }
        do {
            _ = try Suppressions(text: "ok\n", path: "my.supp")
        } catch {
            #expect(error.description == "my.supp:1: expected 'leak:PATTERN', found 'ok'")
        }
    }

    @Test(arguments: [
        ("remember", "remember_error", true), ("^remember", "remember_error", true), ("^error", "remember_error", false),
        ("error$", "remember_error", true), ("rem*err", "remember_error", true), ("^rem*rror$", "remember_error", true),
        ("inventory::*::addItem", "inventory::Catalog::addItem(int)", true), ("x*y", "remember_error", false),
    ])
    func matchesLikeLeakSanitizer(pattern: String, text: String, expected: Bool) {
        #expect(Suppressions.matches(pattern, text) == expected)
    }

    @Test func matchesFunctionModuleOrFile() throws {
        let s = try Suppressions(text: "leak:plugin.c\n", path: "x")
        let frame = SymbolizedFrame(function: "f", file: "/src/plugin.c", line: 3, modulePath: "/lib/libp.so", address: 1)
        #expect(s.match([frame]) == "plugin.c")
        #expect(s.match([SymbolizedFrame(function: "g", modulePath: "/lib/libq.so", address: 1)]) == nil)
    }

    /// Lines are trimmed of spaces and tabs, not of line breaks.
    @Test func trimsSpacesAndTabsOnly() throws {
        let s = try Suppressions(text: "\u{3000}leak:\tfoo\u{85} \n leak: bar\u{2003}\n", path: "x")
        #expect(s.patterns == ["foo\u{85}", "bar"])
    }
}

@Suite struct SnapshotDiffTests {
    @Test func sortsByGrowthAndTotalsEachMetric() throws {
        let t = timeline(sites: [flat, leak, cache])
        let d = SnapshotComparer(names: StackSymbolizer()).diff(SampleRef(t, 5), SampleRef(t, 39), grouping: .stack)
        #expect(d.changes.map(\.deltaBytes) == [cache[39] - cache[5], leak[39] - leak[5], 0])
        let heap = try #require(d.totals.first { $0.metric == .heapMalloc })
        #expect(Int64(heap.after - heap.before) == (leak[39] - leak[5]) + (cache[39] - cache[5]))
    }

    @Test func rebuiltModulesWithoutNamesStillMatchByOffsetOnly() throws {
        let before = timeline(sites: [leak])
        var after = before
        after.pid = 78
        var heap = AttributedMetric()
        let rebuilt = ModuleIdentity(path: "/nonexistent/app", buildID: [9, 9])
        for offset: UInt64 in [0x1000, 0x9000] {
            let site = heap.index(of: CallSite(frames: [.native(NativeFrame(module: rebuilt, offset: offset))]))
            heap.record(SiteCounters(liveBytes: 1, liveCount: 1), site: site, at: 39)
        }
        after.attributed[.heapMalloc] = heap
        let d = SnapshotComparer(names: StackSymbolizer()).diff(SampleRef(before, 0), SampleRef(after, 39), grouping: .stack)
        #expect(d.rebuiltModules == ["app"])
        #expect(d.changes.count == 3)  // unnamed frames are never merged by a missing name
    }

    @Test func suppressedCallSitesAreLeftOut() throws {
        let t = timeline(sites: [flat, leak])
        let suppressions = try Suppressions(text: "leak:app\n", path: "x")
        let d = SnapshotComparer(names: StackSymbolizer(), suppressions: suppressions)
            .diff(SampleRef(t, 0), SampleRef(t, 39), grouping: .stack)
        #expect(d.changes.isEmpty)
    }
}
