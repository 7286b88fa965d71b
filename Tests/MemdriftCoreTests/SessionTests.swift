import Foundation
import MemdriftCore
import Testing

@Suite struct SessionTests {
    @Test func listsSeriesInPidAndImageOrderAndIgnoresTemporaryFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(Fixtures.snapshot(pid: 9, sequence: 2), to: "\(dir)/pid-9/snap-000002.mds")
        try write(Fixtures.snapshot(pid: 9, sequence: 1), to: "\(dir)/pid-9/snap-000001.mds")
        try write(Fixtures.snapshot(pid: 9, sequence: 1), to: "\(dir)/pid-9.2/snap-000001.mds")
        try write(Fixtures.snapshot(pid: 3, sequence: 1), to: "\(dir)/pid-3/snap-000001.mds")
        try Data("partial".utf8).write(to: URL(fileURLWithPath: "\(dir)/pid-3/.snap-000002.tmp"))
        try FileManager.default.createDirectory(atPath: "\(dir)/notes", withIntermediateDirectories: true)

        let session = try Session.open(dir)
        #expect(session.series.map(\.name) == ["pid-3", "pid-9", "pid-9.2"])
        #expect(
            session.series[1].snapshotPaths.map { ($0 as NSString).lastPathComponent } == ["snap-000001.mds", "snap-000002.mds"])
        #expect(try session.series[1].loadSnapshots().map(\.header.sequence) == [1, 2])
    }

    @Test func rejectsWhatIsNotASession() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data().write(to: URL(fileURLWithPath: "\(dir)/file"))
        #expect(throws: FormatError.notASession(path: dir)) { try Session.open(dir) }
        #expect(throws: FormatError.notASession(path: "\(dir)/file")) { try Session.open("\(dir)/file") }
        #expect(throws: FormatError.self) { try Session.open("\(dir)/missing") }
    }

    @Test func aNewSessionIsOpenableAndRequestsTouchThePrivateTriggerFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Session.writeDescription(sessionPath: dir, command: ["app"], intervalSeconds: 1)
        try Session.requestSnapshot(sessionPath: dir)
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(dir)/trigger")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try Session.open(dir).series.isEmpty)
    }
}

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "memdrift-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func write(_ snapshot: Snapshot, to path: String) throws {
    try FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(SnapshotEncoder.encode(snapshot)).write(to: URL(fileURLWithPath: path))
}

@Suite struct ProcessTimelineTests {
    private func command(_ args: [String]) -> String {
        ProcessTimeline(
            pid: 1, image: 1, parentPID: 0, name: "pid-1", executable: "/bin/x", commandLine: args, startWallClockNanos: 0
        )
        .command
    }

    @Test func processTitlesLoseTheirPaddingAndStayOnOneLine() {
        #expect(command(["postgres: autovacuum worker   ", "", ""]) == "postgres: autovacuum worker")
        #expect(command(["sh", "-c", "echo a\necho b"]) == "sh -c echo a\\necho b")
        #expect(command(["tab\there", "bell\u{7}"]) == "tab\\there bell\\x7")
        #expect(command([]) == "/bin/x")
    }

    @Test func siteHistoriesStoreOnlyChangesAndAnswerForEverySample() {
        var h = SiteHistory()
        h.record(.zero, at: 0)
        h.record(SiteCounters(liveBytes: 10, liveCount: 1), at: 2)
        h.record(SiteCounters(liveBytes: 10, liveCount: 1), at: 3)
        h.record(SiteCounters(liveBytes: 30, liveCount: 3), at: 5)
        #expect(h.changes == 2)
        #expect(h.counters(at: 1) == .zero)
        #expect(h.counters(at: 4).liveBytes == 10)
        #expect(h.liveBytes(at: [0, 2, 4, 5, 9]) == [0, 10, 10, 30, 30])
    }

    @Test func modulesAreTheSameModuleByBuildIDWhereverTheyWereLoaded() {
        let a = ModuleIdentity(path: "/usr/bin/app", buildID: [1, 2])
        #expect(a == ModuleIdentity(path: "/tmp/copy/app", buildID: [1, 2]))
        #expect(a != ModuleIdentity(path: "/usr/bin/app", buildID: [3]))
        #expect(a != ModuleIdentity(path: "/usr/bin/app", buildID: []))
        #expect(ModuleIdentity(path: "/x", buildID: []) == ModuleIdentity(path: "/x", buildID: []))
        let site = CallSite(frames: [.native(NativeFrame(module: a, offset: 4))])
        let copy = CallSite(frames: [.native(NativeFrame(module: ModuleIdentity(path: "/other", buildID: [1, 2]), offset: 4))])
        #expect(Set([site, copy]).count == 1)
    }
}

@Suite struct TimelineMergeTests {
    /// Another source's samples join in time order; the tracker's call sites keep their values, and
    /// the new metric's sites hold nothing where a sample does not list them.
    @Test func samplesOfAnotherSourceJoinInTimeOrder() throws {
        var t = ProcessTimeline(
            pid: 1, image: 1, parentPID: 0, name: "pid-1", executable: "/x", commandLine: [], startWallClockNanos: 0)
        t.startMonotonicNanos = 1_000_000_000
        var heap = AttributedMetric()
        let native = heap.index(of: CallSite(frames: [.native(NativeFrame(module: .unknown, offset: 1))]))
        for (i, seconds) in [1.0, 3.0].enumerated() {
            t.samples.append(
                Sample(
                    time: seconds, wallClockNanos: 0, reason: .interval, isFinal: false, metrics: [.heapMalloc: 10],
                    origin: SampleOrigin(path: "", sequence: UInt64(i + 1))))
            heap.record(SiteCounters(liveBytes: Int64(10 * (i + 1))), site: native, at: i)
        }
        t.attributed[.heapMalloc] = heap
        let js = CallSite(frames: [.source(SourceFrame(runtime: "js", function: "keep", file: "a.js", line: 1))])
        func sample(_ seconds: UInt64, _ bytes: Int64?) -> SourceSample {
            SourceSample(
                monotonicNanos: (1 + seconds) * 1_000_000_000, wallClockNanos: 0, reason: .interval, isFinal: false,
                metrics: [.jsHeap: 5], origin: SampleOrigin(path: "", sequence: seconds),
                sites: [.jsHeap: bytes.map { [(site: js, counters: SiteCounters(liveBytes: $0))] } ?? []])
        }
        t.merge([sample(4, nil), sample(2, 7)], from: TimelineSource(kind: "js", title: "js heap"), sampleRates: [.jsHeap: 64])
        #expect(t.samples.map(\.time) == [1, 2, 3, 4])
        #expect(t.sources.map(\.kind) == ["js"])
        #expect(t.attributed[.heapMalloc]?.histories[native].liveBytes(at: [0, 1, 2, 3]) == [10, 10, 20, 20])
        let table = try #require(t.attributed[.jsHeap])
        #expect(table.sampleRate == 64)
        #expect(table.histories[0].liveBytes(at: [1, 3]) == [7, 0])
        #expect(t.sampleIndices(measuring: .jsHeap) == [1, 3])
    }
}
