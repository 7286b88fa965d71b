import MemdriftCore

/// A process timeline whose call sites hold the given live bytes at samples one second apart;
/// RSS follows the heap unless given. The last sample is a teardown (exit) snapshot when `teardown`
/// gives its per-site values.
public func timeline(
    sites: [[Int64]], rss: [Double]? = nil, shmem: [Double]? = nil, teardown: [Int64]? = nil, pid: Int32 = 77
) -> ProcessTimeline {
    var t = ProcessTimeline(
        pid: pid, image: 1, parentPID: 1, name: "pid-\(pid)", executable: "/opt/app", commandLine: ["app"],
        startWallClockNanos: 0)
    t.sources = [TimelineSource(kind: "tracker", title: "tracker heap")]
    let module = ModuleIdentity(path: "/nonexistent/app", buildID: [1, 2])
    var heap = AttributedMetric()
    let indices = sites.indices.map {
        heap.index(of: CallSite(frames: [.native(NativeFrame(module: module, offset: UInt64(0x1000 * ($0 + 1))))]))
    }
    let count = sites.first?.count ?? 0
    let rows = (0..<count).map { i in sites.map { $0[i] } } + (teardown.map { [$0] } ?? [])
    for (i, row) in rows.enumerated() {
        let total = Double(row.reduce(0, +))
        var metrics: [MetricName: Double] = [.heapMalloc: total, .rss: (i < count ? rss?[i] : nil) ?? total + 8_000_000]
        if let shmem, i < count { metrics[.rssShmem] = shmem[i] }
        let isFinal = i >= count
        t.samples.append(
            Sample(
                time: Double(i + 1), wallClockNanos: UInt64(i + 1) * 1_000_000_000, reason: isFinal ? .exit : .interval,
                isFinal: isFinal, metrics: metrics, origin: SampleOrigin(path: "snap-\(i + 1)", sequence: UInt64(i + 1))))
        for (site, value) in row.enumerated() {
            heap.record(
                SiteCounters(liveBytes: value, liveCount: value / 100, allocatedBytes: value, allocatedCount: value / 100),
                site: indices[site], at: i)
        }
    }
    t.attributed[.heapMalloc] = heap
    return t
}
