import MemdriftCore
import Testing

@testable import MemdriftPprof

/// Hand-written protobuf bytes, for inputs the encoder never produces.
struct ProtoBytes {
    var bytes: [UInt8] = []

    static func varint(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
        return out
    }

    func varint(_ field: UInt64, _ value: UInt64) -> Self {
        var copy = self
        copy.bytes += Self.varint(field << 3) + Self.varint(value)
        return copy
    }

    func bytes(_ field: UInt64, _ value: [UInt8]) -> Self {
        var copy = self
        copy.bytes += Self.varint(field << 3 | 2) + Self.varint(UInt64(value.count)) + value
        return copy
    }

    func string(_ field: UInt64, _ value: String) -> Self { bytes(field, Array(value.utf8)) }
    func message(_ field: UInt64, _ value: ProtoBytes) -> Self { bytes(field, value.bytes) }
    func raw(_ value: [UInt8]) -> Self { Self(bytes: bytes + value) }
}

@Suite("pprof decoder")
struct PprofDecoderTests {
    @Test("a gzipped profile decodes to exactly what the encoder was given")
    func roundTrip() throws {
        #expect(try PprofDecoder.decode(PprofEncoder.encode(PprofFixture.profile)) == PprofFixture.profile)
    }

    @Test("every optional field and the heap helpers survive a round trip")
    func roundTripEverything() throws {
        let profile = PprofProfile(
            sampleTypes: [.init(type: "cpu", unit: "nanoseconds")],
            samples: [.init(locationIDs: [1], values: [-7], labels: ["a": "b"], numericLabels: ["n": .init(-3)])],
            mappings: [.init(id: 9, start: 1, limit: UInt64.max, fileOffset: 5, filename: "m", buildID: "ab")],
            locations: [.init(id: 1, mappingID: 9, address: UInt64.max - 1, lines: [.init(functionID: 2, line: -1)])],
            functions: [.init(id: 2, name: "f", systemName: "_f", filename: "f.go", startLine: 3)],
            timeNanos: Int64.min, durationNanos: Int64.max, periodType: .init(type: "cpu", unit: "nanoseconds"),
            period: 10_000_000, comments: ["one", "two", "one"], defaultSampleType: "cpu", dropFrames: "runtime\\..*",
            keepFrames: "main\\..*")
        #expect(try PprofDecoder.decodeProto(PprofEncoder.encodeProto(profile)) == profile)
    }

    @Test("repeated scalars are read packed or one per field, as Go writes short runs")
    func unpackedRepeatedFields() throws {
        let sample = ProtoBytes().varint(1, 4).varint(1, 5).varint(2, 10).varint(2, 20).varint(2, 30)
        let bytes = ProtoBytes().message(2, sample).string(6, "").varint(13, 0)
        let profile = try PprofDecoder.decodeProto(bytes.bytes)
        #expect(profile.samples == [.init(locationIDs: [4, 5], values: [10, 20, 30])])
        #expect(profile.comments == [""])
    }

    @Test("fields profile.proto does not define, of every wire type, are skipped")
    func unknownFieldsAreSkipped() throws {
        let line = ProtoBytes().varint(1, 7).varint(2, 12).varint(3, 4)  // Line.column, newer than our model
        let location = ProtoBytes().varint(1, 1).message(4, line).varint(5, 1)  // Location.is_folded
        let bytes = ProtoBytes()
            .raw([0xF9, 0x01] + [UInt8](repeating: 0xAA, count: 8))  // field 31, fixed64
            .raw([0xFD, 0x01, 1, 2, 3, 4])  // field 31, fixed32
            .string(99, "from the future")
            .message(4, location).string(6, "")
        let profile = try PprofDecoder.decodeProto(bytes.bytes)
        #expect(profile.locations == [.init(id: 1, lines: [.init(functionID: 7, line: 12)])])
    }

    @Test("text that is not gzip is refused, showing how it starts")
    func notGzip() {
        let page = Array("<!DOCTYPE html><html>404 page not found".utf8)
        #expect(throws: PprofError.notGzip(start: Array(page.prefix(8)))) { try PprofDecoder.decode(page) }
        #expect(
            PprofError.notGzip(start: Array(page.prefix(8))).description
                == "not a pprof profile: not gzip data (starts with \"<!DOCTYP\")")
        #expect(
            PprofError.notGzip(start: [0, 1, 0xFF]).description == "not a pprof profile: not gzip data (starts with 00 01 ff)")
        #expect(throws: PprofError.notGzip(start: [])) { try PprofDecoder.decode([]) }
    }

    @Test("gzip cut short, corrupted, or inflating past the limit is refused")
    func badGzip() throws {
        let gz = PprofEncoder.encode(PprofFixture.profile)
        for length in [2, 10, gz.count / 2, gz.count - 1] {
            #expect(throws: PprofError.self) { try PprofDecoder.decode(Array(gz.prefix(length))) }
        }
        #expect(throws: PprofError.truncatedGzip) { try PprofDecoder.decode(Array(gz.prefix(gz.count / 2))) }
        var flipped = gz
        flipped[gz.count - 6] ^= 0xFF  // inside the CRC-32 trailer
        let error = try #require(throws: PprofError.self) { try PprofDecoder.decode(flipped) }
        guard case .corruptGzip = error else { Issue.record("expected corrupt gzip, got \(error)"); return }

        let bomb = try #require(PprofGzip.compress([UInt8](repeating: 0, count: 4 << 20)))
        #expect(bomb.count < 64 << 10)
        #expect(throws: PprofError.tooLarge(limit: 1 << 20)) { try PprofDecoder.decode(bomb, maximumSize: 1 << 20) }
    }

    /// Bad protobuf and what its error must say.
    static let malformedCases: [([UInt8], String)] = {
        var cases: [([UInt8], String)] = []
        func add(_ bytes: ProtoBytes, _ message: String) { cases.append((bytes.bytes, message)) }
        let empty = ProtoBytes()
        // sample_type as a varint, then as a group, instead of a message
        add(empty.varint(1, 3).string(6, ""), "field 1 (Profile.sample_type) has wire type 0, expected 2")
        add(empty.raw([0x0B]), "field 1 (Profile.sample_type) has wire type 3, expected 2")
        // a message claiming more bytes than there are
        add(empty.raw([0x12, 0x05, 0x08]), "a field at byte 1 runs past the end of its message")
        // a length of 2^64 - 1
        add(empty.raw([0x12] + [UInt8](repeating: 0xFF, count: 9) + [0x01]), "runs past the end")
        // an eleven-byte varint, and one that never ends
        add(empty.raw([0x48] + [UInt8](repeating: 0xFF, count: 10) + [0x01]), "varint overflows 64 bits")
        add(empty.raw([0x48, 0xFF, 0xFF]), "a field at byte 1 runs past")
        add(empty.raw([0x00, 0x00]), "field number 0")
        add(empty.raw([0xFB, 0x01]), "is a group")
        add(empty.raw([0x0F]), "invalid wire type 7")
        add(empty.varint(6, 1), "Profile.string_table")
        // a sample's values as a fixed32
        add(empty.message(2, empty.raw([0x15, 1, 2, 3, 4])).string(6, ""), "field 2 (Sample.value) has wire type 5")
        // string indices past the table, and negative
        add(empty.message(1, empty.varint(1, 5)).string(6, ""), "string index 5 is out of range")
        add(empty.string(6, "").varint(14, UInt64.max), "string index -1 is out of range")
        add(empty.string(6, "x"), "does not start with an empty string")
        add(empty, "does not start with an empty string")
        return cases
    }()

    @Test("malformed protobuf gives a one-line error naming what is wrong", arguments: malformedCases)
    func malformed(bytes: [UInt8], message: String) throws {
        let error = try #require(throws: PprofError.self) { try PprofDecoder.decodeProto(bytes) }
        #expect(error.description.contains(message), "\(error)")
        #expect(error.description.hasPrefix("not a pprof profile: "))
        #expect(!error.description.contains("\n"))
    }

    @Test("every truncation and thousands of byte flips of a real profile decode or throw, never trap")
    func damagedInputNeverTraps() {
        let proto = PprofEncoder.encodeProto(PprofFixture.profile)
        for length in 0..<proto.count {
            _ = try? PprofDecoder.decodeProto(Array(proto.prefix(length)))
        }
        var random = SplitMix64(seed: 14)
        var decoded = 0
        for _ in 0..<5000 {
            var damaged = proto
            for _ in 0..<(1 + Int(random.next() % 4)) {
                damaged[Int(random.next() % UInt64(damaged.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            if (try? PprofDecoder.decodeProto(damaged)) != nil { decoded += 1 }
        }
        // Some damage (a changed value, say) still decodes; most must not.
        #expect(decoded < 5000)
    }
}
