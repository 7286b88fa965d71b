import MemdriftCore

/// Follows a session while it is being written: the newest snapshot of every series.
struct SessionWatcher {
    let path: String
    private var cache: [String: Snapshot] = [:]
    private(set) var snapshotCount = 0
    private(set) var series: [SnapshotSeries] = []

    init(path: String) { self.path = path }

    /// Re-lists the session; reads only snapshot files not read before.
    mutating func refresh() {
        guard let session = try? Session.open(path) else { return }
        series = session.series
        snapshotCount = series.reduce(0) { $0 + $1.snapshotPaths.count }
    }

    /// The first and newest snapshots of a series (the same when it has one).
    mutating func endpoints(of s: SnapshotSeries) -> (first: Snapshot, last: Snapshot)? {
        guard let firstPath = s.snapshotPaths.first, let lastPath = s.snapshotPaths.last,
            let first = load(firstPath), let last = load(lastPath)
        else { return nil }
        // Intermediate snapshots are never needed again: keep the cache to two per series.
        let directory = path + "/" + s.name + "/"
        for key in cache.keys where key.hasPrefix(directory) && key != firstPath && key != lastPath { cache[key] = nil }
        return (first, last)
    }

    private mutating func load(_ path: String) -> Snapshot? {
        if let hit = cache[path] { return hit }
        guard let snapshot = try? SnapshotReader.read(path: path) else { return nil }
        cache[path] = snapshot
        return snapshot
    }

    /// The series a pid wrote last (its newest image).
    func latestSeries(of pid: Int32) -> SnapshotSeries? {
        series.filter { $0.pid == pid }.max { $0.image < $1.image }
    }
}
