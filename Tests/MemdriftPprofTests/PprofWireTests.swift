import Foundation
import Testing

@testable import MemdriftPprof

@Suite("pprof wire format")
struct PprofWireTests {
    @Test("an empty profile is only the string table's empty entry")
    func emptyProfile() {
        #expect(PprofEncoder.encodeProto(PprofProfile()) == [0x32, 0x00])
    }

    @Test("scalars are varints, and negative int64 takes ten bytes")
    func scalarVarints() {
        let bytes = PprofEncoder.encodeProto(PprofProfile(timeNanos: 300, period: -1))
        let expected: [UInt8] = [0x32, 0x00, 0x48, 0xAC, 0x02, 0x60] + Array(repeating: 0xFF, count: 9) + [0x01]
        #expect(bytes == expected)
    }

    @Test("the fixture decodes back to what was encoded")
    func fixtureRoundTrip() throws {
        let decoded = try PprofDecoder.decodeProto(PprofEncoder.encodeProto(PprofFixture.profile))
        #expect(decoded == PprofFixture.profile)
    }

    @Test("sample values and location IDs are packed")
    func packedFields() throws {
        let profile = PprofProfile(
            sampleTypes: PprofProfile.heapSampleTypes,
            samples: [.heap(locationIDs: [3, 1, 2], allocObjects: 1, allocBytes: 300, inuseObjects: 0, inuseBytes: -5)])
        let sample = try #require(try WireMessage(PprofEncoder.encodeProto(profile)).messages(2).first)
        #expect(sample.all(1) == [.bytes([3, 1, 2])])
        let values: [UInt8] = [0x01, 0xAC, 0x02, 0x00] + [0xFB] + Array(repeating: 0xFF, count: 8) + [0x01]
        #expect(sample.all(2) == [.bytes(values)])
    }

    @Test("the string table starts with \"\" and holds each string once")
    func stringTable() throws {
        let table = try WireMessage(PprofEncoder.encodeProto(PprofFixture.profile)).strings(6)
        #expect(table.first == "")
        #expect(table.filter { $0 == "handle_request" }.count == 1)
        #expect(table.filter { $0 == "bytes" }.count == 1)
        #expect(Set(table.map { Array($0.utf8) }).count == table.count)
    }

    @Test("strings that differ only in byte spelling keep separate entries")
    func canonicallyEquivalentStrings() throws {
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        let profile = PprofProfile(functions: [.init(id: 1, name: composed), .init(id: 2, name: decomposed)])
        let decoded = try PprofDecoder.decodeProto(PprofEncoder.encodeProto(profile))
        #expect(decoded.functions.map { Array($0.name.utf8) } == [Array(composed.utf8), Array(decomposed.utf8)])
    }

    @Test("messages of 128 bytes and more get multi-byte lengths")
    func longMessages() throws {
        let name = String(repeating: "n", count: 300)
        let profile = PprofProfile(
            sampleTypes: [.inuseSpace],
            samples: [.init(locationIDs: Array(1...200), values: [1])],
            functions: [.init(id: 1, name: name, filename: String(repeating: "f", count: 20_000))])
        let decoded = try PprofDecoder.decodeProto(PprofEncoder.encodeProto(profile))
        #expect(decoded == profile)
    }

    @Test("labels are written in key order, so encoding is deterministic")
    func deterministic() throws {
        let labels = Dictionary(uniqueKeysWithValues: (0..<50).map { ("key\($0)", "value\($0)") })
        let profile = PprofProfile(sampleTypes: [.inuseSpace], samples: [.init(locationIDs: [], values: [1], labels: labels)])
        let bytes = PprofEncoder.encodeProto(profile)
        #expect(bytes == PprofEncoder.encodeProto(profile))
        let message = try WireMessage(bytes)
        let table = try message.strings(6)
        let keys = try #require(try message.messages(2).first).messages(3).map { table[Int(try $0.int(1))] }
        #expect(keys == labels.keys.sorted())
    }

    @Test("encode gzips the protobuf bytes")
    func gzip() throws {
        let gz = PprofEncoder.encode(PprofFixture.profile)
        #expect(Array(gz.prefix(3)) == [0x1F, 0x8B, 0x08])
        #expect(try PprofGzip.decompress(gz, limit: 1 << 20) == PprofEncoder.encodeProto(PprofFixture.profile))
    }

    @Test("large profiles compress across many output chunks")
    func gzipLarge() throws {
        // A fixed linear congruential sequence keeps the values varied enough that the gzip
        // output spans several of the compressor's 64 KiB output chunks.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int64(state >> 40)
        }
        var samples: [PprofProfile.Sample] = []
        for i in 0..<40_000 {
            let stack: [UInt64] = [UInt64(i % 997 + 1), UInt64(i % 13 + 1)]
            samples.append(
                .heap(
                    locationIDs: stack, allocObjects: next(), allocBytes: next(), inuseObjects: next(),
                    inuseBytes: next(), labels: ["thread": "t\(i % 17)"]))
        }
        let profile = PprofProfile.heap(samples: samples, mappings: [], locations: [], functions: [])
        let proto = PprofEncoder.encodeProto(profile)
        let gz = PprofEncoder.encode(profile)
        #expect(gz.count > 64 * 1024)
        #expect(gz.count < proto.count)
        #expect(try PprofGzip.decompress(gz, limit: 64 << 20) == proto)
    }

    @Test("problems() names what pprof would reject")
    func problems() {
        #expect(PprofFixture.profile.problems().isEmpty)
        var broken = PprofFixture.profile
        broken.samples.append(.init(locationIDs: [9], values: [1]))
        broken.locations.append(.init(id: 1, mappingID: 5, lines: [.init(functionID: 0)]))
        broken.functions.append(.init(id: 0, name: "zero"))
        broken.defaultSampleType = "cpu"
        let found = broken.problems()
        #expect(found.contains("location ID 1 is used twice"))
        #expect(found.contains("function has ID 0"))
        #expect(found.contains("location 1 refers to unknown mapping 5"))
        #expect(found.contains("location 1 has a line in unknown function 0"))
        #expect(found.contains("sample 3 has 1 values for 4 sample types"))
        #expect(found.contains("sample 3 refers to unknown location 9"))
        #expect(found.contains("default sample type cpu is not one of the sample types"))
    }
}
