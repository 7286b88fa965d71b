import MemdriftCore

/// The adapter for Go heap profiles a run fetched (`go-<pid>/heap-<ns>.pb.gz`): each profile is a
/// sample of that process's `go.inuse` metric, with Go's call sites (estimates, from Go's own
/// sampling). A process the tracker is not in (a static Go binary) gets a timeline of its own.
public struct GoHeaps: TimelineAdapter {
    static let source = TimelineSource(kind: "go", title: "go heap")

    /// The adapter.
    public init() {}

    public func merge(sessionPath: String, into processes: inout [ProcessTimeline], warnings: inout [String]) {
        for (pid, directory) in GoHeapSamples.series(sessionPath: sessionPath) {
            let (samples, problems) = GoHeapSamples.read(directory: directory)
            warnings += problems.map { "skipped \($0)" }
            guard let first = samples.first else { continue }
            let incoming = samples.enumerated().map { i, s in
                SourceSample(
                    monotonicNanos: s.monotonicNanos, wallClockNanos: s.wallClockNanos, reason: .interval, isFinal: false,
                    metrics: [.goInuse: Double(s.inuseBytes)], origin: SampleOrigin(path: s.path, sequence: UInt64(i + 1)),
                    sites: [.goInuse: s.sites])
            }
            let rates: [MetricName: UInt64] = [.goInuse: UInt64(max(first.period, 1))]
            if let owner = ProcessTimeline.owner(of: pid, at: first.monotonicNanos, in: processes) {
                processes[owner].merge(incoming, from: Self.source, sampleRates: rates)
                continue
            }
            var t = ProcessTimeline(
                pid: pid, image: 1, parentPID: 0, name: GoHeapSamples.directoryName(pid: pid), executable: "go",
                commandLine: [], startWallClockNanos: first.wallClockNanos)
            t.startMonotonicNanos = first.monotonicNanos
            t.merge(incoming, from: Self.source, sampleRates: rates)
            processes.append(t)
        }
    }
}
