import Foundation
import MemdriftCore
import Testing

@testable import MemdriftPprof

/// A heap profile laid out as Go 1.19 writes one: one sample per stack and object size (with a
/// `bytes` label), runtime frames already hidden at the leaf, and an inlined call.
enum GoFixture {
    static let kib: Int64 = 1024

    static let profile = PprofProfile.heap(
        samples: [
            // rememberSession <- login <- main, 16 KiB objects: 640 KiB live.
            .heap(
                locationIDs: [1, 2, 3], allocObjects: 64, allocBytes: 1024 * kib, inuseObjects: 40, inuseBytes: 640 * kib,
                numericLabels: ["bytes": .init(16384)]),
            // The same stack, 48-byte objects (the map's growth).
            .heap(
                locationIDs: [1, 2, 3], allocObjects: 10, allocBytes: 480, inuseObjects: 10, inuseBytes: 480,
                numericLabels: ["bytes": .init(48)]),
            // grow (inlined into WriteString) <- render <- main: allocated, nothing live.
            .heap(locationIDs: [4, 5, 3], allocObjects: 100, allocBytes: 512 * kib, inuseObjects: 0, inuseBytes: 0),
            // The runtime's own goroutine stacks.
            .heap(locationIDs: [6, 7], allocObjects: 1, allocBytes: 512 * kib, inuseObjects: 1, inuseBytes: 512 * kib),
            // Nothing at all: left out.
            .heap(locationIDs: [6], allocObjects: 0, allocBytes: 0, inuseObjects: 0, inuseBytes: 0),
        ],
        mappings: [.init(id: 1, start: 0x40_0000, limit: 0x80_0000, filename: "/srv/app", hasFunctions: true)],
        locations: [
            .init(id: 1, mappingID: 1, address: 0x40_1000, lines: [.init(functionID: 1, line: 52)]),
            .init(id: 2, mappingID: 1, address: 0x40_2000, lines: [.init(functionID: 2, line: 63)]),
            .init(id: 3, mappingID: 1, address: 0x40_3000, lines: [.init(functionID: 3, line: 90)]),
            .init(
                id: 4, mappingID: 1, address: 0x40_4000,
                lines: [.init(functionID: 4, line: 120), .init(functionID: 5, line: 190)]),
            .init(id: 5, mappingID: 1, address: 0x40_5000, lines: [.init(functionID: 6, line: 12)]),
            .init(id: 6, mappingID: 1, address: 0x40_6000, lines: [.init(functionID: 7, line: 4300)]),
            .init(id: 7, mappingID: 1, address: 0x40_7000, lines: [.init(functionID: 8, line: 0)]),
        ],
        functions: [
            .init(id: 1, name: "main.rememberSession", filename: "/src/app/main.go"),
            .init(id: 2, name: "main.login", filename: "/src/app/main.go"),
            .init(id: 3, name: "main.main", filename: "/src/app/main.go"),
            .init(id: 4, name: "bytes.(*Buffer).grow", filename: "/usr/lib/go/src/bytes/buffer.go"),
            .init(id: 5, name: "bytes.(*Buffer).WriteString", filename: "/usr/lib/go/src/bytes/buffer.go"),
            .init(id: 6, name: "main.render", filename: "/src/app/render.go"),
            .init(id: 7, name: "runtime.malg", filename: "/usr/lib/go/src/runtime/proc.go"),
            .init(id: 8, name: "runtime.systemstack", filename: ""),
        ],
        timeNanos: 1_800_000_000_123_456_789, period: 512 * 1024)

    static func go(_ function: String, _ file: String?, _ line: Int?) -> CallFrame {
        .source(SourceFrame(runtime: "go", function: function, file: file, line: line))
    }
}

@Suite("Go heap profiles as call sites")
struct GoHeapProfileTests {
    @Test("sites are Go source frames leaf first, inlined callees before their callers, most live bytes first")
    func sites() throws {
        let heap = try GoHeapProfile(GoFixture.profile)
        let main = "/src/app/main.go"
        #expect(
            heap.sites.map(\.site.frames) == [
                [
                    GoFixture.go("main.rememberSession", main, 52), GoFixture.go("main.login", main, 63),
                    GoFixture.go("main.main", main, 90),
                ],
                [
                    GoFixture.go("runtime.malg", "/usr/lib/go/src/runtime/proc.go", 4300),
                    GoFixture.go("runtime.systemstack", nil, nil),
                ],
                [
                    GoFixture.go("bytes.(*Buffer).grow", "/usr/lib/go/src/bytes/buffer.go", 120),
                    GoFixture.go("bytes.(*Buffer).WriteString", "/usr/lib/go/src/bytes/buffer.go", 190),
                    GoFixture.go("main.render", "/src/app/render.go", 12), GoFixture.go("main.main", main, 90),
                ],
            ])
    }

    @Test("inuse becomes live and alloc becomes allocated; one stack's object sizes merge into one site")
    func counters() throws {
        let heap = try GoHeapProfile(GoFixture.profile)
        let kib = GoFixture.kib
        #expect(
            heap.sites.map(\.counters) == [
                SiteCounters(liveBytes: 640 * kib + 480, liveCount: 50, allocatedBytes: 1024 * kib + 480, allocatedCount: 74),
                SiteCounters(liveBytes: 512 * kib, liveCount: 1, allocatedBytes: 512 * kib, allocatedCount: 1),
                SiteCounters(liveBytes: 0, liveCount: 0, allocatedBytes: 512 * kib, allocatedCount: 100),
            ])
        #expect(heap.inuseBytes == 1152 * kib + 480)
        #expect(heap.inuseObjects == 51)
        #expect(heap.timeNanos == 1_800_000_000_123_456_789)
        #expect(heap.period == 512 * 1024)
    }

    @Test("decode reads the gzipped bytes Go serves")
    func decodeGzipped() throws {
        let heap = try GoHeapProfile.decode(PprofEncoder.encode(GoFixture.profile))
        #expect(heap.sites.count == 3)
        #expect(throws: PprofError.self) { try GoHeapProfile.decode(PprofEncoder.encodeProto(GoFixture.profile)) }
    }

    @Test("sample types are found by name, whatever their order; missing alloc_* count as zero")
    func sampleTypeOrder() throws {
        var profile = GoFixture.profile
        profile.sampleTypes = [.inuseSpace, .inuseObjects]
        profile.samples = profile.samples.map { .init(locationIDs: $0.locationIDs, values: [$0.values[3], $0.values[2]]) }
        let heap = try GoHeapProfile(profile)
        #expect(heap.sites.first?.counters == SiteCounters(liveBytes: 640 * GoFixture.kib + 480, liveCount: 50))
    }

    @Test("a location without lines becomes an unnamed native frame")
    func unnamedLocation() throws {
        let profile = PprofProfile.heap(
            samples: [.heap(locationIDs: [1, 2], allocObjects: 1, allocBytes: 8, inuseObjects: 1, inuseBytes: 8)],
            mappings: [], locations: [.init(id: 1, address: 0x4567), .init(id: 2, lines: [.init(functionID: 1, line: 3)])],
            functions: [.init(id: 1, name: "main.main")])
        let heap = try GoHeapProfile(profile)
        #expect(
            heap.sites.first?.site.frames == [
                .native(NativeFrame(module: .unknown, offset: 0x4567)), GoFixture.go("main.main", nil, 3),
            ])
    }

    @Test("profiles that are not heap profiles or do not hold together are refused")
    func refused() throws {
        var cpu = GoFixture.profile
        cpu.sampleTypes = [.init(type: "samples", unit: "count"), .init(type: "cpu", unit: "nanoseconds")]
        #expect(throws: PprofError.notAHeapProfile(sampleTypes: ["samples", "cpu"])) { try GoHeapProfile(cpu) }
        #expect(
            PprofError.notAHeapProfile(sampleTypes: ["samples", "cpu"]).description
                == "not a Go heap profile: its sample types are samples, cpu, without inuse_space")

        var dangling = GoFixture.profile
        dangling.samples[0].locationIDs.append(99)
        #expect(throws: PprofError.inconsistent(detail: "sample 0 refers to unknown location 99")) {
            try GoHeapProfile(dangling)
        }
        var noFunction = GoFixture.profile
        noFunction.functions.removeFirst()
        #expect(throws: PprofError.inconsistent(detail: "location 1 has a line in unknown function 1")) {
            try GoHeapProfile(noFunction)
        }
        var shortSample = GoFixture.profile
        shortSample.samples[1].values.removeLast()
        #expect(throws: PprofError.inconsistent(detail: "sample 1 has 3 values for 4 sample types")) {
            try GoHeapProfile(shortSample)
        }
        var twice = GoFixture.profile
        twice.locations.append(twice.locations[0])
        #expect(throws: PprofError.inconsistent(detail: "location ID 1 is used twice")) { try GoHeapProfile(twice) }
    }

    @Test("sums that would overflow saturate instead of trapping")
    func saturation() throws {
        let profile = PprofProfile.heap(
            samples: [
                .heap(locationIDs: [1], allocObjects: .max, allocBytes: .max, inuseObjects: .max, inuseBytes: .max),
                .heap(locationIDs: [1], allocObjects: .max, allocBytes: .max, inuseObjects: .max, inuseBytes: .max),
            ],
            mappings: [], locations: [.init(id: 1, lines: [.init(functionID: 1)])], functions: [.init(id: 1, name: "f")])
        let heap = try GoHeapProfile(profile)
        #expect(heap.inuseBytes == .max)
        #expect(heap.sites.first?.counters.allocatedCount == .max)
    }
}

@Suite("Go heap profile validation")
struct GoHeapProfileValidationTests {
    @Test("validate accepts a heap profile and refuses other profiles and other bytes")
    func validate() throws {
        try GoHeapProfile.validate(PprofEncoder.encode(GoFixture.profile))
        let cpu = PprofProfile(sampleTypes: [.init(type: "cpu", unit: "nanoseconds")])
        #expect(throws: PprofError.notAHeapProfile(sampleTypes: ["cpu"])) { try GoHeapProfile.validate(PprofEncoder.encode(cpu)) }
        #expect(throws: PprofError.self) { try GoHeapProfile.validate(Array("404 page not found".utf8)) }
    }
}
