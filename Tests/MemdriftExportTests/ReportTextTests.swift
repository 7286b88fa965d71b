import MemdriftAnalysis
import MemdriftCore
import MemdriftExport
import MemdriftSymbolization
import MemdriftTestSupport
import Testing

@Suite struct ReportTextTests {
    private let leak = (0..<20).map { Int64(10_000 + $0 * 4_000) }
    private let flat = [Int64](repeating: 500_000, count: 20)

    /// A postgres soak has dozens of one-snapshot helpers: they fold into one line after the
    /// processes that matter, leaking ones first.
    @Test func shortLivedHelpersFoldIntoOneLine() {
        var processes = [timeline(sites: [flat], pid: 1), timeline(sites: [flat, leak], pid: 2)]
        for pid: Int32 in 10..<15 {
            var helper = timeline(sites: [[1000, 1000]], pid: pid)
            helper.commandLine = ["postgres: autovacuum worker  ", ""]
            processes.append(helper)
        }
        let analysis = Judge(names: StackSymbolizer()).judge(SessionTimelines(path: "/s", processes: processes))
        let text = ReportText().render(analysis)
        let titles = text.split(separator: "\n").filter { $0.hasPrefix("pid ") }
        #expect(titles == ["pid 2: app", "pid 1: app"])
        #expect(text.contains("5 short-lived processes too short to judge (2 snapshots each): postgres: autovacuum worker (5)"))
        #expect(text.hasPrefix("memdrift report: /s\nverdict: leak (1 of 7 processes leak)\n"))
    }

    @Test func warningsAreListedAndSuppressedSitesNamed() throws {
        var options = AnalysisOptions()
        options.suppressions = try Suppressions(text: "leak:app\n", path: "x")
        let analysis = Judge(names: StackSymbolizer(), options: options).judge(
            SessionTimelines(path: "/s", processes: [timeline(sites: [flat, leak])], warnings: ["skipped /s/pid-77/snap-3.mds"]))
        let text = ReportText().render(analysis)
        #expect(text.contains("warning: skipped /s/pid-77/snap-3.mds\n"))
        #expect(text.contains("heap leak +") && text.contains("suppressed by leak:app"))
        #expect(text.contains("verdict: stable: no sustained growth besides accepted call sites"))
    }

    /// Mapped memory that stayed 0 all along is a source (named) but no metric line.
    @Test func anAttributedMetricThatNeverHeldAnythingIsNotListed() {
        var t = timeline(sites: [flat, leak])
        t.sources.append(TimelineSource(kind: "tracker", title: "tracker mapped"))
        t.attributed[.heapMapped] = AttributedMetric()
        for i in t.samples.indices { t.samples[i].metrics[.heapMapped] = 0 }
        let text = ReportText().render(Judge(names: StackSymbolizer()).judge(SessionTimelines(path: "/s", processes: [t])))
        #expect(text.contains("sources: tracker heap, tracker mapped\n"))
        #expect(text.contains("\n  heap ") && !text.contains("\n  mapped "))
    }
}

@Suite struct DiffTextTests {
    /// Unchanged rows are never "more rows": neither --top nor --min-bytes could show them.
    @Test func hiddenRowsAreOnlyThoseTopCouldShow() {
        let growing: [[Int64]] = (1...3).map { rate in (0..<10).map { Int64(1000 + $0 * 100 * rate) } }
        let sites = growing + [[Int64]](repeating: [Int64](repeating: 1000, count: 10), count: 2)
        let t = timeline(sites: sites)
        let d = SnapshotComparer(names: StackSymbolizer()).diff(SampleRef(t, 0), SampleRef(t, 9), grouping: .stack)
        let text = DiffText(top: 2).render(d)
        #expect(text.contains("\n  (1 more row; raise --top to show it)\n"))
        #expect(
            DiffText(top: 1, minimumBytes: 1024).render(d).contains("(1 more row of at least 1.0 KiB; raise --top to show it)"))
        #expect(!DiffText(top: 3).render(d).contains("more row"))
    }
}
