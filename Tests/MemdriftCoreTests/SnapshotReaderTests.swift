import Foundation
import MemdriftCore
import Testing

@Suite struct SnapshotReaderTests {
    let path = "test.mds"

    @Test func roundTripsEveryField() throws {
        let original = Fixtures.snapshot()
        let decoded = try SnapshotReader.decode(SnapshotEncoder.encode(original), path: path)
        #expect(decoded.header == original.header)
        #expect(decoded.executable == "/usr/bin/app")
        #expect(decoded.commandLine == ["app", "--port", "8080"])
        #expect(decoded.figures == original.figures)
        #expect(decoded.modules == original.modules)
        #expect(decoded.stacks == original.stacks)
        #expect(decoded.modules[0].buildIDHex == "abcd01")
        #expect(decoded.module(of: decoded.stacks[1].frames[0])?.name == "app")
        #expect(decoded.module(of: decoded.stacks[1].frames[2]) == nil)
    }

    @Test func theHeaderAloneIsReadWithTheSameChecksExceptTheChecksum() throws {
        let dir = try temporaryDirectory()
        let file = dir + "/snap.mds"
        var bytes = SnapshotEncoder.encode(Fixtures.snapshot(pid: 9, sequence: 4))
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        #expect(try SnapshotReader.readHeader(path: file) == Fixtures.snapshot(pid: 9, sequence: 4).header)
        bytes[200] ^= 0x40  // only a full read checks the sections
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        #expect(try SnapshotReader.readHeader(path: file).sequence == 4)
        #expect(throws: FormatError.checksumMismatch(path: file)) { try SnapshotReader.read(path: file) }
        for cut in [0, 5, 60, 100, bytes.count - 1] {
            try Data(bytes.prefix(cut)).write(to: URL(fileURLWithPath: file))
            #expect(throws: FormatError.self, "cut at \(cut)") { try SnapshotReader.readHeader(path: file) }
        }
        var newer = SnapshotEncoder.encode(Fixtures.snapshot())
        newer[8] = 9
        try Data(newer).write(to: URL(fileURLWithPath: file))
        #expect(throws: FormatError.newerVersion(path: file, found: 9, supported: SnapshotFormat.version)) {
            try SnapshotReader.readHeader(path: file)
        }
    }

    @Test func everyTruncationIsAnErrorNeverACrash() {
        let bytes = SnapshotEncoder.encode(Fixtures.snapshot())
        for cut in 0..<bytes.count {
            #expect(throws: FormatError.self) { try SnapshotReader.decode(Array(bytes.prefix(cut)), path: path) }
        }
    }

    @Test func namesEmptyForeignAndNewerFiles() {
        #expect(throws: FormatError.empty(path: path)) { try SnapshotReader.decode([], path: path) }
        #expect(throws: FormatError.notASnapshot(path: path)) {
            try SnapshotReader.decode(Array("#!/bin/sh\necho hello\n".utf8), path: path)
        }
        var newer = SnapshotEncoder.encode(Fixtures.snapshot())
        newer[8] = 9
        #expect(throws: FormatError.newerVersion(path: path, found: 9, supported: SnapshotFormat.version)) {
            try SnapshotReader.decode(newer, path: path)
        }
    }

    @Test func detectsAFlippedByte() {
        var bytes = SnapshotEncoder.encode(Fixtures.snapshot())
        bytes[200] ^= 0x40
        #expect(throws: FormatError.checksumMismatch(path: path)) { try SnapshotReader.decode(bytes, path: path) }
    }

    @Test func rejectsFramesPointingOutsideTheModuleList() {
        var snapshot = Fixtures.snapshot()
        snapshot.stacks[1].frames[0].module = 7
        #expect(throws: FormatError.self) { try SnapshotReader.decode(SnapshotEncoder.encode(snapshot), path: path) }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SplitMix64(seed: 7)
        let valid = SnapshotEncoder.encode(Fixtures.snapshot())
        for round in 0..<2000 {
            var bytes = valid
            // Mutate a few bytes, then re-seal the checksum half of the time so the parser itself is exercised.
            for _ in 0..<(1 + round % 4) { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            if round % 2 == 0 { bytes = resealed(bytes) }
            _ = try? SnapshotReader.decode(bytes, path: path)
        }
    }

    @Test func errorMessagesAreOneLineAndNameTheFile() {
        let errors: [FormatError] = [
            .empty(path: path), .notASnapshot(path: path), .newerVersion(path: path, found: 2, supported: 1),
            .truncated(path: path, offset: 10, needed: 4), .corrupt(path: path, offset: 3, detail: "x"),
            .checksumMismatch(path: path), .notASession(path: path), .unreadable(path: path, reason: "r"),
        ]
        for e in errors {
            #expect(e.description.contains(path))
            #expect(!e.description.contains("\n"))
        }
    }

    private func resealed(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count > 8 else { return bytes }
        var b = Array(bytes.prefix(bytes.count - 8))
        let sum = b.withUnsafeBytes { SnapshotFormat.checksum($0) }
        for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: sum >> (8 * UInt64(i)))) }
        return b
    }
}
