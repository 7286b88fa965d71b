import Foundation
import MemdriftCore
import Testing

@testable import MemdriftRecording

@Suite struct SessionDirectoryTests {
    @Test func createsAPrivateDirectory() throws {
        let parent = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let path = try SessionDirectory.prepare("\(parent)/session", command: "/usr/bin/app")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
    }

    @Test func refusesNonEmptyDirectoriesFilesAndSymlinks() throws {
        let parent = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        try FileManager.default.createDirectory(atPath: "\(parent)/used", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(parent)/used/snap"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(parent)/file"))
        try FileManager.default.createSymbolicLink(atPath: "\(parent)/link", withDestinationPath: "\(parent)/used")
        for name in ["used", "file", "link"] {
            #expect(throws: RecordingError.self) { try SessionDirectory.prepare("\(parent)/\(name)", command: "app") }
        }
        #expect(throws: RecordingError.self) { try SessionDirectory.prepare("\(parent)/missing/deeper", command: "app") }
    }

    @Test func defaultNamesAreSafeFileNames() {
        let name = SessionDirectory.defaultName(command: "/opt/my server;rm", date: Date(timeIntervalSince1970: 0))
        #expect(name.hasPrefix("memdrift-my_server_rm-19700101-") || name.hasPrefix("memdrift-my_server_rm-1970"))
        #expect(!name.contains("/") && !name.contains(" "))
    }
}

@Suite struct TrackerLocatorTests {
    @Test func findsTheTrackerNextToTheExecutableOrReportsWhereItLooked() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: RecordingError.self) { try TrackerLocator.locate(explicit: nil, executablePath: "\(dir)/memdrift") }
        try Data().write(to: URL(fileURLWithPath: "\(dir)/libmemdrift-preload.so"))
        #expect(try TrackerLocator.locate(explicit: nil, executablePath: "\(dir)/memdrift") == "\(dir)/libmemdrift-preload.so")
        #expect(throws: RecordingError.self) { try TrackerLocator.locate(explicit: "\(dir)/nope.so") }
    }
}

func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "memdrift-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct PreloadCheckTests {
    @Test func dynamicProgramsScriptsAndMissingFilesHaveNoObstacle() throws {
        #expect(PreloadCheck.obstacle(for: "/bin/ls") == nil)
        #expect(PreloadCheck.obstacle(for: "ls", path: "/nonexistent:/bin") == nil)
        #expect(PreloadCheck.obstacle(for: "/nonexistent/program") == nil)
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("#!/bin/sh\nexit 0\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/script"))
        #expect(PreloadCheck.obstacle(for: "\(dir)/script") == nil)
    }

    @Test func setuidAndSetgidFilesAreObstacles() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: "\(dir)/uid")
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: "\(dir)/gid")
        #expect(chmod("\(dir)/uid", 0o4755) == 0 && chmod("\(dir)/gid", 0o2755) == 0)
        #expect(PreloadCheck.obstacle(for: "\(dir)/uid") == .setID(path: "\(dir)/uid", bit: "setuid"))
        #expect(PreloadCheck.obstacle(for: "gid", path: dir) == .setID(path: "\(dir)/gid", bit: "setgid"))
    }

    @Test func theTrackerMustBeACompleteSharedLibrary() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let library = "/lib/x86_64-linux-gnu/libz.so.1"
        #expect(throws: Never.self) { try TrackerLocator.validate(library) }
        try Data(try Data(contentsOf: URL(fileURLWithPath: library)).prefix(80)).write(to: URL(fileURLWithPath: "\(dir)/cut.so"))
        for bad in ["\(dir)/cut.so", "/bin/ls", "/etc/passwd", "\(dir)/missing.so"] {
            #expect(throws: RecordingError.self, "\(bad)") { try TrackerLocator.validate(bad) }
        }
    }

    /// Offsets are file data: one past the range of off_t is a bad file, not a trap.
    @Test func programHeaderOffsetsBeyondAnyFileAreRejected() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var header = [UInt8](repeating: 0, count: 64)
        header.replaceSubrange(0..<7, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1])
        header[16] = 3  // ET_DYN
        header[54] = 56  // e_phentsize
        header[56] = 2  // e_phnum
        for offset: UInt64 in [0xFFFF_FFFF_FFFF_FF00, 0x7FFF_FFFF_FFFF_FF00] {
            withUnsafeBytes(of: offset.littleEndian) { header.replaceSubrange(32..<40, with: $0) }
            try Data(header).write(to: URL(fileURLWithPath: "\(dir)/far.so"))
            #expect(ELFProgramHeaders(path: "\(dir)/far.so") == nil)
            #expect(throws: RecordingError.self) { try TrackerLocator.validate("\(dir)/far.so") }
        }
    }
}

@Suite struct StatusLineTests {
    private func process(_ pid: Int32, _ name: String, rss: (UInt64, UInt64), heap: (UInt64, UInt64) = (0, 0), image: Int = 1)
        -> SessionWatcher.Process
    {
        var first = ProcessFigures(), latest = ProcessFigures()
        first[.vmRSS] = rss.0
        latest[.vmRSS] = rss.1
        if heap != (0, 0) {
            first[.heapLiveBytes] = heap.0
            latest[.heapLiveBytes] = heap.1
        }
        return SessionWatcher.Process(pid: pid, image: image, name: name, first: first, latest: latest, snapshots: 3)
    }

    /// `sh -c` or `git gc`: the child that grows is named, not the parent that waits.
    @Test func coversTheWholeTreeAndNamesTheLargestGrower() {
        let line = StatusLine.render(
            elapsed: 12, duration: 30,
            processes: [process(10, "sh", rss: (3 << 20, 3 << 20)), process(11, "git", rss: (8 << 20, 68 << 20), heap: (1, 2))],
            isRunning: { _ in true }, width: nil)
        #expect(line.contains("2 processes, 6 snapshots"))
        #expect(line.contains("rss 71.0 MiB (+60.0 MiB)"))
        #expect(line.hasSuffix("top: git[11] +60.0 MiB"))
    }

    @Test func fitsTheTerminalAndCountsOnlyLiveProcesses() {
        let processes = [
            process(10, "sh", rss: (3 << 20, 3 << 20)), process(11, "a-very-long-program-name", rss: (1 << 20, 90 << 20)),
        ]
        let line = StatusLine.render(elapsed: 12, duration: 30, processes: processes, isRunning: { $0 == 10 }, width: 79)
        #expect(line.count <= 79)
        #expect(line.contains("rss 3.0 MiB"))
        #expect(StatusLine.render(elapsed: 1, duration: nil, processes: [], isRunning: { _ in true }, width: 20).count <= 20)
    }

    /// On 80 columns the largest grower outranks the heap and the counts.
    @Test func aNarrowTerminalKeepsTheLargestGrower() {
        let line = StatusLine.render(
            elapsed: 5, duration: 6,
            processes: [
                process(10, "sh", rss: (2 << 20, 2 << 20), heap: (1, 2)),
                process(11, "leaky-server", rss: (5 << 20, 18 << 20), heap: (1 << 20, 9 << 20)),
            ],
            isRunning: { _ in true }, width: 79)
        #expect(line == "memdrift 5s of 6s | rss 20.0 MiB (+13.0 MiB) | top: leaky-server[11] +13.0 MiB")
    }

    @Test func theNewestImageOfAPidStandsForIt() {
        let line = StatusLine.render(
            elapsed: 1, duration: nil,
            processes: [process(10, "sh", rss: (1 << 20, 1 << 20)), process(10, "ls", rss: (2 << 20, 4 << 20), image: 2)],
            isRunning: { _ in true }, width: nil)
        #expect(line.hasSuffix("1 process, 6 snapshots | rss 4.0 MiB (+2.0 MiB)"))  // no heap figure: /proc only
    }
}

@Suite struct SessionThinnerTests {
    /// A checkpoint and deltas of a leaking and a flat stack; the leak's frames are given once.
    private func series(in dir: String, count: Int) throws {
        try FileManager.default.createDirectory(atPath: "\(dir)/pid-5", withIntermediateDirectories: true)
        let modules = [Module(index: 0, base: 0, start: 0, end: 1 << 20, buildID: [1], path: "/bin/app")]
        for i in 0..<count {
            let first = i == 0
            var leak = CallStack(
                id: 1, frames: first ? [Frame(module: 0, offset: 0x10)] : [], liveBytes: UInt64(1000 * (i + 1)), liveCount: 1,
                allocatedBytes: 0, allocatedCount: 0)
            leak.framesDefinedEarlier = !first
            var stacks = [leak]
            // A stack that appears half way and changes once.
            if i == count / 2 || i == count / 2 + 1 {
                var late = CallStack(
                    id: 2, frames: i == count / 2 ? [Frame(module: 0, offset: 0x20)] : [], liveBytes: UInt64(500 * i),
                    liveCount: 1, allocatedBytes: 0, allocatedCount: 0)
                late.framesDefinedEarlier = i != count / 2
                stacks.append(late)
            }
            let header = SnapshotHeader(
                flags: first ? 0 : 0x8, pid: 5, sequence: UInt64(i + 1), wallClockNanos: UInt64(i) * 1_000_000_000,
                monotonicNanos: UInt64(i) * 1_000_000_000, startWallClockNanos: 0, startMonotonicNanos: 0,
                intervalNanos: 1_000_000_000)
            var figures = ProcessFigures()
            figures[.heapLiveBytes] = UInt64(1000 * (i + 1))
            let snapshot = Snapshot(
                header: header, executable: "/bin/app", commandLine: ["app"], figures: figures, modules: first ? modules : [],
                stacks: stacks)
            try Data(SnapshotEncoder.encode(snapshot)).write(
                to: URL(fileURLWithPath: "\(dir)/pid-5/\(SnapshotSeries.fileName(sequence: UInt64(i + 1)))"))
        }
    }

    /// Folding loses resolution in the middle, never a change: every snapshot that remains reads as before.
    @Test func thinningKeepsTheEndsAndEveryChange() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try series(in: dir, count: 40)
        let before = try TimelineReader.read(dir).processes[0]
        let removed = SessionThinner(session: dir, budget: 1).thinIfNeeded()
        #expect(removed > 10)
        let after = try TimelineReader.read(dir)
        #expect(after.warnings.isEmpty)
        let t = after.processes[0]
        #expect(t.samples.count == 40 - removed)
        let kept = t.samples.map(\.origin.sequence)
        #expect(Array(kept.prefix(6)) == [1, 2, 3, 4, 5, 6] && Array(kept.suffix(8)) == Array(33...40))
        // The state at every remaining snapshot is what it was.
        for (site, history) in zip(
            after.processes[0].attributed[.heapMalloc]!.sites, after.processes[0].attributed[.heapMalloc]!.histories)
        {
            let old = try #require(before.attributed[.heapMalloc]?.position(of: site))
            for (i, sample) in t.samples.enumerated() {
                let j = try #require(before.samples.firstIndex { $0.origin.sequence == sample.origin.sequence })
                #expect(history.counters(at: i) == before.attributed[.heapMalloc]!.histories[old].counters(at: j))
            }
        }
    }

    @Test func runtimeProfilesLoseEveryOtherOneInTheMiddle() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/js-7", withIntermediateDirectories: true)
        for i in 0..<20 { try Data("x".utf8).write(to: URL(fileURLWithPath: "\(dir)/js-7/heap-\(String(1000 + i)).json")) }
        let thinner = SessionThinner(session: dir, budget: 1)
        #expect(thinner.middle((1000..<1020).map { UInt64($0) }) == [2, 4, 6, 8, 10, 12, 14])
        #expect(thinner.thinIfNeeded() > 0)
        let left = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/js-7").sorted()
        #expect(left.first == "heap-1000.json" && left.last == "heap-1019.json")
    }

    @Test func aSessionWithinItsBudgetIsLeftAlone() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try series(in: dir, count: 10)
        #expect(SessionThinner(session: dir, budget: 1 << 30).thinIfNeeded() == 0)
    }
}

@Suite struct RuntimeSupportTests {
    /// Node and BEAM are asked for perf maps, after the user's own options; CPython's environment is
    /// left as it was: the tracker reads its frames and hooks pymalloc itself (docs/runtimes.md).
    @Test func cpythonsEnvironmentIsLeftAlone() {
        var environment = ["NODE_OPTIONS": "--max-old-space-size=512", "PYTHONMALLOC": "pymalloc_debug"]
        RuntimeSupport.enable(in: &environment)
        #expect(environment["NODE_OPTIONS"]?.hasPrefix("--max-old-space-size=512 --perf-basic-prof") == true)
        #expect(environment["ERL_FLAGS"] == "+JPperf true")
        #expect(environment["PYTHONMALLOC"] == "pymalloc_debug")
        #expect(environment["PYTHONPERFSUPPORT"] == nil)
        var empty: [String: String] = [:]
        RuntimeSupport.enable(in: &empty)
        #expect(empty["PYTHONMALLOC"] == nil && empty["PYTHONPERFSUPPORT"] == nil)
    }
}
