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
        #expect(decoded.mapped == original.mapped)
        #expect(decoded.figures.mappedLiveBytes == 8192)
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

    @Test func readsMappedMemoryOfStacksSeenOnlyByMmap() throws {
        let decoded = try SnapshotReader.decode(SnapshotEncoder.encode(Fixtures.snapshot()), path: path)
        let onlyMapped = try #require(decoded.stacks.first { $0.id == 3 })
        #expect(onlyMapped.liveBytes == 0 && onlyMapped.allocatedCount == 0)
        #expect(decoded.mapped.first { $0.stackID == 3 }?.mappedBytes == 1 << 20)
        #expect(decoded.mapped.map(\.stackID) == [2, 3])
    }

    /// Version 1 files written before the MAPPED section existed read as having no mappings.
    @Test func aSnapshotWithoutTheMappedSectionHasNoMappings() throws {
        let bytes = SnapshotEncoder.encode(Fixtures.snapshot())
        let mapped = try #require(sections(of: bytes).first { $0.kind == SnapshotFormat.Section.mapped.rawValue })
        var body = Array(bytes[..<(mapped.payload.lowerBound - 16)] + bytes[mapped.payload.upperBound..<bytes.count - 24])
        body[88] -= 1  // the header's section count
        let decoded = try SnapshotReader.decode(sealed(body), path: path)
        #expect(decoded.mapped.isEmpty)
        #expect(decoded.stacks == Fixtures.snapshot().stacks)
    }

    @Test func rejectsMappedMemoryOfAStackNotInTheStacks() {
        var unknown = Fixtures.snapshot()
        unknown.mapped[1].stackID = 99
        #expect(corruption(SnapshotEncoder.encode(unknown)) == "mapped memory of stack 99, which is not in the stacks")
        var twice = Fixtures.snapshot()
        twice.mapped[1].stackID = 2
        #expect(corruption(SnapshotEncoder.encode(twice)) == "mapped memory of stack 2 twice")
        var noStacks = Fixtures.snapshot()
        noStacks.stacks = []
        #expect(corruption(SnapshotEncoder.encode(noStacks)) == "mapped memory of stack 2, which is not in the stacks")
    }

    /// A MAPPED section cut short, or whose count promises more records than it holds, is corrupt
    /// even when the file's checksum is right.
    @Test func aTruncatedOrGarbledMappedSectionIsCorrupt() throws {
        let bytes = SnapshotEncoder.encode(Fixtures.snapshot())
        let mapped = try #require(sections(of: bytes).first { $0.kind == SnapshotFormat.Section.mapped.rawValue })
        let lengthAt = mapped.payload.lowerBound - 8
        // One record's last 8 bytes gone, the section length saying so.
        var cut = Array(bytes[..<(mapped.payload.upperBound - 8)] + bytes[mapped.payload.upperBound..<bytes.count - 24])
        cut[lengthAt] -= 8
        #expect(corruption(sealed(cut)) == "mapped stack count 2 does not fit the section")
        // A count of three records in a section of two.
        var counted = Array(bytes.prefix(bytes.count - 24))
        counted[mapped.payload.lowerBound] = 3
        #expect(corruption(sealed(counted)) == "mapped stack count 3 does not fit the section")
        // A section length running past the end of the file.
        var long = Array(bytes.prefix(bytes.count - 24))
        long[lengthAt + 4] = 1
        #expect(corruption(sealed(long))?.hasSuffix("bytes runs past the end") == true)
        // The untouched bytes, sealed the same way, still read.
        #expect(try SnapshotReader.decode(sealed(Array(bytes.prefix(bytes.count - 24))), path: path).mapped.count == 2)
    }

    /// Version 2 writes stack ids by their gaps, integers as LEB128, and only the frames a stack
    /// does not share, from the root, with the previous stack that gave frames.
    @Test func compactStacksShareFramesFromTheRoot() throws {
        func f(_ offset: UInt64, _ module: UInt32 = 0) -> Frame { Frame(module: module, offset: offset) }
        let main = [f(0x30), f(0x20), f(0x10, 1)]
        var snapshot = Fixtures.snapshot()
        snapshot.header.flags |= 0x8  // a delta: stack 9's frames were given earlier
        snapshot.stacks = [
            CallStack(id: 0, frames: [], liveBytes: 0, liveCount: 0, allocatedBytes: 0, allocatedCount: 0),
            CallStack(id: 5, frames: [f(0x40)] + main, liveBytes: 1 << 40, liveCount: 3, allocatedBytes: 9, allocatedCount: 1),
            CallStack(
                id: 6, frames: [f(0x50), f(0x60, Frame.noModule)] + main.suffix(2), liveBytes: 1, liveCount: 1, allocatedBytes: 1,
                allocatedCount: 1),
            CallStack(id: 9, frames: [], liveBytes: 7, liveCount: 1, allocatedBytes: 7, allocatedCount: 1),
            CallStack(id: 300, frames: main.suffix(2), liveBytes: 2, liveCount: 1, allocatedBytes: 2, allocatedCount: 1),
        ]
        snapshot.stacks[3].framesDefinedEarlier = true
        snapshot.mapped = []
        let bytes = SnapshotEncoder.encode(snapshot)
        #expect(try SnapshotReader.decode(bytes, path: path).stacks == snapshot.stacks)
        var old = snapshot
        old.header.formatVersion = 1
        old.stacks[3].framesDefinedEarlier = false
        let oldBytes = SnapshotEncoder.encode(old)
        #expect(try SnapshotReader.decode(oldBytes, path: path).stacks == old.stacks)
        let stacks = try #require(sections(of: bytes).first { $0.kind == SnapshotFormat.Section.stacks.rawValue })
        let oldStacks = try #require(sections(of: oldBytes).first { $0.kind == SnapshotFormat.Section.stacks.rawValue })
        #expect(stacks.payload.count * 4 < oldStacks.payload.count)
    }

    @Test func rejectsGarbledCompactStacks() throws {
        #expect(try corruption(withStacks([1, 0, 4, 0, 0, 0, 0, 1])) == "stack 0 shares 1 frames with a stack of 0")
        #expect(try corruption(withStacks([1, 0, 0xD8, 0x04, 0, 0, 0, 0])) == "stack 0 has 300 frames, more than 256")
        #expect(try corruption(withStacks([1, 0, 5, 0, 0, 0, 0])) == "stack 0 has frames and says they were given earlier")
        #expect(try corruption(withStacks([1, 0, 2, 0, 0, 0, 0, 0, 9, 1])) == "frame refers to module 8 of 2")
        #expect(try corruption(withStacks([1] + [UInt8](repeating: 0xFF, count: 10) + [1])) == "integer longer than 64 bits")
        #expect(
            try corruption(withStacks([2, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
                == "stack id beyond 32 bits")
    }

    /// The fixture with its STACKS payload replaced: `count` (a byte, as u32) then `entries`.
    private func withStacks(_ payload: [UInt8]) throws -> [UInt8] {
        var snapshot = Fixtures.snapshot()
        snapshot.mapped = []
        let bytes = SnapshotEncoder.encode(snapshot)
        let stacks = try #require(sections(of: bytes).first { $0.kind == SnapshotFormat.Section.stacks.rawValue })
        let entries = [payload[0], 0, 0, 0] + payload.dropFirst()
        var body = Array(bytes[..<stacks.payload.lowerBound]) + entries + bytes[stacks.payload.upperBound..<bytes.count - 24]
        let length = UInt64(entries.count)
        for i in 0..<8 { body[stacks.payload.lowerBound - 8 + i] = UInt8(truncatingIfNeeded: length >> (8 * UInt64(i))) }
        return sealed(body)
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

    /// The detail of the `corrupt` error decoding `bytes` throws; nil when it throws another or none.
    private func corruption(_ bytes: [UInt8]) -> String? {
        do {
            _ = try SnapshotReader.decode(bytes, path: path)
            return nil
        } catch {
            guard case .corrupt(_, _, let detail) = error else { return nil }
            return detail
        }
    }

    /// The sections of an encoded snapshot: kind and payload range.
    private func sections(of bytes: [UInt8]) -> [(kind: UInt32, payload: Range<Int>)] {
        func integer(_ at: Int, _ size: Int) -> Int {
            (0..<size).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) }
        }
        var found: [(kind: UInt32, payload: Range<Int>)] = []
        var at = SnapshotFormat.headerBytes
        for _ in 0..<integer(88, 4) {
            let length = integer(at + 8, 8)
            found.append((UInt32(integer(at, 4)), at + 16..<at + 16 + length))
            at += 16 + length
        }
        return found
    }

    /// `body` (a snapshot without its trailer) with a trailer that matches it.
    private func sealed(_ body: [UInt8]) -> [UInt8] {
        var b = body + SnapshotFormat.trailerMagic
        let length = UInt64(b.count + 16)
        for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        let sum = b.withUnsafeBytes { SnapshotFormat.checksum($0) }
        for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: sum >> (8 * UInt64(i)))) }
        return b
    }

    private func resealed(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count > 8 else { return bytes }
        var b = Array(bytes.prefix(bytes.count - 8))
        let sum = b.withUnsafeBytes { SnapshotFormat.checksum($0) }
        for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: sum >> (8 * UInt64(i)))) }
        return b
    }
}
