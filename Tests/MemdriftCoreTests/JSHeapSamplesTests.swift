import Foundation
import Testing

@testable import MemdriftCore

@Suite struct JSHeapSamplesTests {
    /// A profile as the probe writes it: (root) -> processTimers -> listOnTimeout -> serve -> rememberSession,
    /// an anonymous ES-module callback, a builtin, and a V8 node without a script.
    static func sampleText(monotonic: String = "18446744073709551000", nodes: String? = nil) -> String {
        let strings =
            #"["(root)","","processTimers","node:internal/timers","listOnTimeout","serve","/srv/app.js","#
            + #""rememberSession","push","file:///srv/my%20lib/cache.mjs","(V8 API)"]"#
        let tree =
            nodes
            ?? "[[-1,0,1,-1,0,0],[0,2,3,503,0,0],[1,4,3,523,0,0],[2,5,6,40,0,0],[3,7,6,20,300000,5],"
            + "[4,8,1,-1,70000,1],[3,1,9,4,131072,2],[0,10,1,-1,65536,1],[3,7,6,20,100,1]]"
        return #"{"monotonicNanos":\#(monotonic),"schema":"memdrift.js-heap/1","pid":4217,"ppid":1,"threadId":0,"#
            + #""sequence":3,"reason":"interval","wallClockMillis":1700000000123,"#
            + #""memory":{"rss":50000000,"heapTotal":9000000,"heapUsed":7000000,"external":1300000,"arrayBuffers":10000},"#
            + #""samplingInterval":65536,"strings":\#(strings),"nodes":\#(tree)}"# + "\n"
    }

    @Test func decodesFramesLeafFirstBelowTheRoot() throws {
        let sample = try JSHeapSamples.decode(Array(Self.sampleText().utf8), path: "heap.json")
        #expect(sample.monotonicNanos == 18_446_744_073_709_551_000)
        #expect(sample.wallClockNanos == 1_700_000_000_123_000_000)
        #expect(sample.reason == .interval && sample.pid == 4217 && sample.parentPID == 1 && sample.threadID == 0)
        #expect(sample.sequence == 3 && sample.samplingInterval == 65536)
        #expect(
            sample.memory
                == JSMemoryUsage(
                    rss: 50_000_000, heapTotal: 9_000_000, heapUsed: 7_000_000, external: 1_300_000, arrayBuffers: 10_000))

        let top = try #require(sample.sites.first)
        // Two nodes with the same frames (V8 tells them apart by column) are one call site.
        #expect(top.counters == SiteCounters(liveBytes: 300_100, liveCount: 6))
        let frames = top.site.frames.map { frame -> SourceFrame? in
            if case .source(let source) = frame { return source }
            return nil
        }
        #expect(
            frames == [
                SourceFrame(runtime: "js", function: "rememberSession", file: "/srv/app.js", line: 21),
                SourceFrame(runtime: "js", function: "serve", file: "/srv/app.js", line: 41),
                SourceFrame(runtime: "js", function: "listOnTimeout", file: "node:internal/timers", line: 524),
                SourceFrame(runtime: "js", function: "processTimers", file: "node:internal/timers", line: 504),
            ])
        #expect(sample.sites.map(\.counters.liveBytes) == [300_100, 131_072, 70_000, 65_536])
        #expect(sample.sampledLiveBytes == 566_708)

        let module = try #require(sample.sites[1].site.frames.first)
        #expect(module == .source(SourceFrame(runtime: "js", function: "(anonymous)", file: "/srv/my lib/cache.mjs", line: 5)))
        let builtin = try #require(sample.sites[2].site.frames.first)
        #expect(builtin == .source(SourceFrame(runtime: "js", function: "push")))
        #expect(sample.sites[3].site.frames == [.source(SourceFrame(runtime: "js", function: "(V8 API)"))])
    }

    @Test func runtimeFramesAreNodesAndV8s() {
        #expect(JSHeapSamples.isRuntimeFrame(SourceFrame(runtime: "js", function: "push")))
        #expect(JSHeapSamples.isRuntimeFrame(SourceFrame(runtime: "js", function: "(V8 API)")))
        #expect(
            JSHeapSamples.isRuntimeFrame(
                SourceFrame(runtime: "js", function: "listOnTimeout", file: "node:internal/timers", line: 1)))
        #expect(!JSHeapSamples.isRuntimeFrame(SourceFrame(runtime: "js", function: "serve", file: "/srv/app.js", line: 41)))
    }

    @Test(arguments: [
        "[[-1,0,1,-1,0,0],[5,2,3,1,10,1]]",  // a parent after the node
        "[[-1,0,1,-1,0,0],[0,2,3,1,10]]",  // five fields
        "[[-1,0,1,-1,0,0],[0,99,3,1,10,1]]",  // a string outside the table
        "[[-1,0,1,-1,0,0],[0,2,3,1,-10,1]]",  // a negative size
        "[[-1,0,1,-1,0,0],[0,2,3,1,\"x\",1]]",  // not a number
    ])
    func damagedTreesAreRefused(nodes: String) {
        #expect(throws: FormatError.self) {
            try JSHeapSamples.decode(Array(Self.sampleText(nodes: nodes).utf8), path: "heap.json")
        }
    }

    @Test func aDirectoryIsReadInTimeOrderAndADamagedFileCostsOnlyItself() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func store(_ text: String, as name: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
        }
        try store(Self.sampleText(monotonic: "2000"), as: "heap-00000000000000002000.json")
        try store(Self.sampleText(monotonic: "900"), as: "heap-00000000000000000900.json")
        let truncated = String(Self.sampleText(monotonic: "1500").prefix(200))
        try store(truncated, as: "heap-00000000000000001500.json")
        try store(
            Self.sampleText().replacingOccurrences(of: "js-heap/1", with: "js-heap/2"), as: "heap-00000000000000001700.json")
        try store("{", as: ".heap-00000000000000003000.json.tmp")
        try store("{", as: "notes.txt")
        try FileManager.default.createSymbolicLink(
            atPath: "\(dir)/heap-00000000000000002500.json", withDestinationPath: "\(dir)/heap-00000000000000002000.json")

        let (samples, warnings) = JSHeapSamples.read(directory: dir)
        #expect(samples.map(\.monotonicNanos) == [900, 2000])
        #expect(warnings.count == 3)
        #expect(warnings.contains { $0.contains("heap-00000000000000001500.json") && $0.contains("damaged") })
        #expect(warnings.contains { $0.contains("heap-00000000000000001700.json") && $0.contains("js-heap/2") })
        #expect(warnings.contains { $0.contains("heap-00000000000000002500.json") })
        #expect(warnings.allSatisfy { !$0.contains("\n") })

        let missing = JSHeapSamples.read(directory: "\(dir)/missing")
        #expect(missing.0.isEmpty && missing.warnings.count == 1)
    }

    @Test func seriesNamesGiveProcessThreadAndImage() throws {
        #expect(JSHeapSeries.parseName("js-4217")! == (4217, 0, 1))
        #expect(JSHeapSeries.parseName("js-4217.2")! == (4217, 0, 2))
        #expect(JSHeapSeries.parseName("js-4217-worker-3")! == (4217, 3, 1))
        #expect(JSHeapSeries.parseName("js-4217-worker-3.4")! == (4217, 3, 4))
        for bad in [
            "js-", "js-x", "js-0", "js-12.1", "js-12.", "js-12-worker-", "js-12-worker-0", "pid-12", "js-12-worker-1-worker-2",
        ] {
            #expect(JSHeapSeries.parseName(bad) == nil, "\(bad)")
        }

        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["js-20.2", "js-20-worker-1", "js-20", "js-7", "pid-20", ".probes"] {
            try FileManager.default.createDirectory(atPath: "\(dir)/\(name)", withIntermediateDirectories: true)
        }
        #expect(JSHeapSeries.list(sessionPath: dir).map(\.name) == ["js-7", "js-20", "js-20.2", "js-20-worker-1"])
    }
}
