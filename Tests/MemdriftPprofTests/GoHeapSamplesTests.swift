import Foundation
import MemdriftCore
import Testing

@testable import MemdriftPprof

@Suite("Go heap samples of a session")
struct GoHeapSamplesTests {
    @Test("file and directory names round-trip; other names are not profiles")
    func names() {
        #expect(GoHeapSamples.fileName(monotonicNanos: 1_234) == "heap-00000000000000001234.pb.gz")
        #expect(GoHeapSamples.fileName(monotonicNanos: .max) == "heap-18446744073709551615.pb.gz")
        #expect(GoHeapSamples.monotonicNanos(fromFileName: "heap-00000000000000001234.pb.gz") == 1_234)
        for name in [
            ".heap-00000000000000001234.pb.gz.tmp", "heap-1234.pb.gz", "heap-0000000000000000123x.pb.gz",
            "heap-00000000000000001234.pb", "heap-99999999999999999999.pb.gz", "heap-+0000000000000001234.pb.gz",
        ] {
            #expect(GoHeapSamples.monotonicNanos(fromFileName: name) == nil, "\(name)")
        }
        #expect(GoHeapSamples.directoryName(pid: 4217) == "go-4217")
        #expect(GoHeapSamples.pid(fromDirectoryName: "go-4217") == 4217)
        for name in ["go-0", "go--1", "go-+5", "go-05", "pid-4217", "go-4217.2"] {
            #expect(GoHeapSamples.pid(fromDirectoryName: name) == nil, "\(name)")
        }
    }

    @Test("profiles are read in time order; a damaged file is skipped with a warning naming it")
    func read() throws {
        let session = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: session) }
        let directory = session + "/go-77"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        var later = GoFixture.profile
        later.timeNanos += 10_000_000_000
        later.samples[0].values[3] *= 2
        try write(PprofEncoder.encode(later), to: directory + "/" + GoHeapSamples.fileName(monotonicNanos: 20_000))
        try write(PprofEncoder.encode(GoFixture.profile), to: directory + "/" + GoHeapSamples.fileName(monotonicNanos: 9_000))
        let damaged = directory + "/" + GoHeapSamples.fileName(monotonicNanos: 15_000)
        try write(Array(PprofEncoder.encode(GoFixture.profile).prefix(100)), to: damaged)
        try write([1, 2, 3], to: directory + "/.heap-00000000000000030000.pb.gz.tmp")
        try write([1, 2, 3], to: directory + "/notes.txt")

        let (samples, warnings) = GoHeapSamples.read(directory: directory)
        #expect(samples.map(\.monotonicNanos) == [9_000, 20_000])
        #expect(samples.map(\.wallClockNanos) == [1_800_000_000_123_456_789, 1_800_000_010_123_456_789])
        #expect(samples.map(\.inuseBytes) == [1152 * GoFixture.kib + 480, 1792 * GoFixture.kib + 480])
        #expect(samples.first?.sites.count == 3)
        #expect(samples.first?.period == GoFixture.profile.period)
        #expect(samples.first?.path == directory + "/heap-00000000000000009000.pb.gz")
        #expect(warnings == ["skipped \(damaged): not a pprof profile: the gzip data ends early (truncated)"])

        #expect(GoHeapSamples.series(sessionPath: session).map(\.pid) == [77])
        #expect(GoHeapSamples.series(sessionPath: session).first?.path == directory)
    }

    @Test("symlinks and over-large files are not read; a missing directory is one warning")
    func refused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let target = directory + "/elsewhere.pb.gz"
        try write(PprofEncoder.encode(GoFixture.profile), to: target)
        let link = directory + "/" + GoHeapSamples.fileName(monotonicNanos: 1)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let (samples, warnings) = GoHeapSamples.read(directory: directory)
        #expect(samples.isEmpty)
        #expect(warnings.count == 1 && warnings[0].hasPrefix("skipped \(link): "))

        let missing = GoHeapSamples.read(directory: directory + "/go-1")
        #expect(missing.samples.isEmpty && missing.warnings.count == 1)
    }

    @Test("a profile without time_nanos takes the file's modification time")
    func wallClockFallback() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var profile = GoFixture.profile
        profile.timeNanos = 0
        try write(PprofEncoder.encode(profile), to: directory + "/" + GoHeapSamples.fileName(monotonicNanos: 5))
        let before = UInt64(Date().timeIntervalSince1970 - 60) * 1_000_000_000
        let sample = try #require(GoHeapSamples.read(directory: directory).samples.first)
        #expect(sample.wallClockNanos > before)
    }

    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "memdrift-go-samples-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
