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

@Suite struct RunSummaryTests {
    @Test func listsTheMainProcessFirstWithItsTopGrower() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try store(snapshot(pid: 10, sequence: 1, leak: 100), in: dir)
        try store(snapshot(pid: 10, sequence: 2, leak: 50_100), in: dir)
        try store(snapshot(pid: 11, sequence: 1, leak: 0), in: dir)
        try store(snapshot(pid: 11, sequence: 2, leak: 900_000), in: dir)

        let text = try RunSummary().render(sessionPath: dir, mainPID: 10)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "memdrift: session \(dir): 2 processes, 4 snapshots")
        #expect(lines[1].hasPrefix("pid 10: app --serve"))
        #expect(lines[3].contains("heap 4.1 KiB -> 52.9 KiB (+48.8 KiB)"))
        #expect(
            lines[5]
                == "    +48.8 KiB (+200 blocks, 48.9 KiB live)  app+0x1234 (module missing) <- libc.so.6+0x2724a (module missing)"
        )
        #expect(text.contains("pid 11: app --serve"))
    }

    @Test func saysSoWhenNothingGrew() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try store(snapshot(pid: 10, sequence: 1, leak: 100), in: dir)
        try store(snapshot(pid: 10, sequence: 2, leak: 100), in: dir)
        #expect(try RunSummary().render(sessionPath: dir).contains("no call site grew"))
    }

    private func snapshot(pid: Int32, sequence: UInt64, leak: UInt64) -> Snapshot {
        let header = SnapshotHeader(
            pid: pid, sequence: sequence, wallClockNanos: sequence * 1_000_000_000, monotonicNanos: sequence * 1_000_000_000,
            startWallClockNanos: 0, startMonotonicNanos: 0, intervalNanos: 1_000_000_000)
        var figures = ProcessFigures()
        figures[.heapLiveBytes] = leak + 4096
        figures[.vmRSS] = 1 << 22
        let modules = [
            Module(index: 0, base: 0, start: 0, end: 1 << 20, buildID: [1], path: "/bin/app"),
            Module(index: 1, base: 1 << 30, start: 1 << 30, end: 1 << 31, buildID: [2], path: "/lib/libc.so.6"),
        ]
        let stacks = [
            CallStack(
                id: 1, frames: [Frame(module: 0, offset: 0x1234), Frame(module: 1, offset: 0x2724A)], liveBytes: leak,
                liveCount: leak / 250, allocatedBytes: leak, allocatedCount: leak / 250),
            CallStack(
                id: 2, frames: [Frame(module: 0, offset: 0x2000)], liveBytes: 4096, liveCount: 1, allocatedBytes: 4096,
                allocatedCount: 1),
        ]
        return Snapshot(
            header: header, executable: "/bin/app", commandLine: ["app", "--serve"], figures: figures, modules: modules,
            stacks: stacks)
    }

    private func store(_ s: Snapshot, in dir: String) throws {
        let series = "\(dir)/pid-\(s.header.pid)"
        try FileManager.default.createDirectory(atPath: series, withIntermediateDirectories: true)
        let name =
            "snap-" + String(repeating: "0", count: 6 - String(s.header.sequence).count) + String(s.header.sequence) + ".mds"
        try Data(SnapshotEncoder.encode(s)).write(to: URL(fileURLWithPath: "\(series)/\(name)"))
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
