import Foundation
import MemdriftCore
import MemdriftSymbolization
import Testing

@testable import MemdriftAnalysis

/// Writes a synthetic session: one process whose call sites follow the given per-snapshot live bytes.
private func syntheticSession(sites: [[UInt64]], interval: Double = 1) throws -> String {
    let dir = NSTemporaryDirectory() + "memdrift-analysis-" + UUID().uuidString
    let series = dir + "/pid-77"
    try FileManager.default.createDirectory(atPath: series, withIntermediateDirectories: true)
    let count = sites.first?.count ?? 0
    for i in 0..<count {
        let t = UInt64(Double(i + 1) * interval * 1e9)
        let header = SnapshotHeader(
            pid: 77, sequence: UInt64(i + 1), wallClockNanos: t, monotonicNanos: t, startWallClockNanos: 0,
            startMonotonicNanos: 0, intervalNanos: UInt64(interval * 1e9))
        let stacks = sites.enumerated().map { id, values in
            CallStack(
                id: UInt32(id + 1), frames: [Frame(module: 0, offset: UInt64(0x1000 * (id + 1)))], liveBytes: values[i],
                liveCount: values[i] / 100, allocatedBytes: values[i], allocatedCount: values[i] / 100)
        }
        var figures = ProcessFigures()
        figures[.heapLiveBytes] = stacks.reduce(0) { $0 + $1.liveBytes }
        figures[.vmRSS] = 8 << 20
        let snapshot = Snapshot(
            header: header, executable: "/opt/app", commandLine: ["app"], figures: figures,
            modules: [Module(index: 0, base: 0, start: 0, end: 1 << 20, buildID: [1, 2], path: "/nonexistent/app")],
            stacks: stacks)
        let name = String(format: "snap-%06d.mds", i + 1)
        try Data(SnapshotEncoder.encode(snapshot)).write(to: URL(fileURLWithPath: "\(series)/\(name)"))
    }
    return dir
}

/// Live bytes per snapshot of a leaking, a flat and a bounded (cache) call site.
private let leak = (0..<40).map { UInt64(10_000 + $0 * 4_000) }
private let flat = [UInt64](repeating: 500_000, count: 40)
private let cache = (0..<40).map { UInt64(min($0, 10) * 50_000) }

@Suite struct SessionAnalysisTests {
    @Test func aGrowingCallSiteIsTheSuspectAndTheProcessLeaks() throws {
        let path = try syntheticSession(sites: [flat, leak, cache])
        let analysis = try SessionAnalyzer(stacks: StackSymbolizer()).analyze(sessionPath: path)
        let p = try #require(analysis.processes.first)
        #expect(p.verdict == .leak)
        #expect(analysis.verdict == .leak)
        #expect(p.suspects.map(\.stack.id) == [2])
        #expect(p.otherGrowers.map(\.trend.classification) == [.bounded])
        #expect(p.suspects.first?.frames.first?.note == "module missing")
        #expect(p.snapshotCount == 40)
    }

    @Test func suppressedSuspectsDoNotMakeALeak() throws {
        let path = try syntheticSession(sites: [flat, leak])
        var options = AnalysisOptions()
        options.suppressions = try Suppressions(text: "# accepted\nleak:^app$\n", path: "s.supp")
        let p = try #require(
            try SessionAnalyzer(stacks: StackSymbolizer(), options: options).analyze(sessionPath: path).processes.first)
        #expect(p.suspects.isEmpty)
        #expect(p.otherGrowers.first?.suppressedBy == "^app$")
        #expect(p.verdict == .growth)  // the heap still grows; no unsuppressed call site explains it
    }

    @Test func tooFewSnapshotsAreInconclusive() throws {
        let path = try syntheticSession(sites: [Array(leak.prefix(4))])
        let analysis = try SessionAnalyzer(stacks: StackSymbolizer()).analyze(sessionPath: path)
        #expect(analysis.verdict == .inconclusive)
    }

    @Test func gateChecksEachThreshold() throws {
        let path = try syntheticSession(sites: [flat, leak])
        let analysis = try SessionAnalyzer(stacks: StackSymbolizer()).analyze(sessionPath: path)
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
    @Test func sameImageMatchesByIDAndSortsByGrowth() throws {
        let path = try syntheticSession(sites: [flat, leak, cache])
        let series = try #require(try Session.open(path).series.first)
        let snaps = try series.loadSnapshots()
        let d = SnapshotComparer(stacks: StackSymbolizer()).diff(snaps[5], snaps[39], grouping: .stack)
        #expect(d.changes.map(\.deltaBytes) == [Int64(cache[39] - cache[5]), Int64(leak[39] - leak[5]), 0])
        #expect(d.heapAfter - d.heapBefore == (leak[39] - leak[5]) + (cache[39] - cache[5]))
    }

    @Test func rebuiltModulesWithoutNamesStillMatchByOffsetOnly() throws {
        let path = try syntheticSession(sites: [leak])
        let snaps = try #require(try Session.open(path).series.first).loadSnapshots()
        var other = snaps[39]
        other.header.pid = 78
        other.modules[0].buildID = [9, 9]
        other.stacks.append(
            CallStack(
                id: 9, frames: [Frame(module: 0, offset: 0x9000)], liveBytes: 1, liveCount: 1, allocatedBytes: 1,
                allocatedCount: 1))
        let d = SnapshotComparer(stacks: StackSymbolizer()).diff(snaps[0], other, grouping: .stack)
        #expect(d.rebuiltModules == ["app"])
        #expect(d.changes.count == 2)  // unnamed frames are never merged by a missing name
    }
}
