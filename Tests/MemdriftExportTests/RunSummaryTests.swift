import MemdriftAnalysis
import MemdriftCore
import MemdriftExport
import MemdriftSymbolization
import MemdriftTestSupport
import Testing

@Suite struct RunSummaryTests {
    private let leak = (0..<20).map { Int64(10_000 + $0 * 4_000) }
    private let flat = [Int64](repeating: 500_000, count: 20)

    @Test func listsTheLeakingProcessFirstWithItsSuspectAndTheVerdictLine() throws {
        let session = SessionTimelines(
            path: "/s", processes: [timeline(sites: [flat], pid: 10), timeline(sites: [flat, leak], teardown: [0, 0], pid: 11)])
        let analysis = Judge(names: StackSymbolizer()).judge(session)
        let lines = RunSummaryText().render(analysis).split(separator: "\n").map(String.init)
        #expect(lines[0] == "memdrift: session /s: 2 processes, 41 snapshots")
        #expect(lines[1] == "pid 11: app")
        #expect(lines[2].hasPrefix("  20 snapshots over 19s, warm-up 2s excluded; a final snapshot at exit, not judged"))
        // The figures end at the last judged snapshot; teardown's 0 B is shown, not judged.
        #expect(lines[3] == "  heap   505.9 KiB -> 572.3 KiB, +13.7 MiB/h, leak; 0 B at exit")
        #expect(lines.contains { $0.hasPrefix("    heap leak +") && $0.contains("app+0x2000 (module missing)") })
        #expect(lines.last?.hasPrefix("memdrift: verdict leak (pid 11: app+0x2000 (module missing))") == true)
    }

    @Test func pluralsAreWordedRight() {
        #expect(plural(1, "snapshot") == "1 snapshot")
        #expect(plural(2, "process") == "2 processes")
        #expect(plural(1, "more row") == "1 more row")
    }
}
