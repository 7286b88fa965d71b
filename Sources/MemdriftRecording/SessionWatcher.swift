import MemdriftCore

/// Follows a session while it is being written: the first and newest figures of every series,
/// read from each new snapshot's header and figures only.
struct SessionWatcher {
    /// What the status line shows of one process image.
    struct Process {
        var pid: Int32
        /// 1 for the pid's first image, counting up across exec.
        var image: Int
        var name: String
        var first: ProcessFigures
        var latest: ProcessFigures
        var snapshots: Int

        var rssGrowth: Int64 { Int64(bitPattern: latest.rss &- first.rss) }
        var heapGrowth: Int64 { Int64(bitPattern: latest.heapLiveBytes &- first.heapLiveBytes) }
    }

    let path: String
    private(set) var processes: [String: Process] = [:]
    private var seen: [String: String] = [:]

    init(path: String) { self.path = path }

    /// Snapshots written so far, over every series.
    var snapshotCount: Int { processes.values.reduce(0) { $0 + $1.snapshots } }

    /// Re-lists the session; reads only snapshot files newer than those read before.
    mutating func refresh() {
        guard let session = try? Session.open(path) else { return }
        for series in session.series {
            guard let newest = series.snapshotPaths.last, seen[series.name] != newest else { continue }
            guard let latest = try? SnapshotReader.readSummary(path: newest) else { continue }
            seen[series.name] = newest
            if var known = processes[series.name] {
                known.latest = latest.figures
                known.snapshots = series.snapshotPaths.count
                processes[series.name] = known
            } else {
                let first =
                    series.snapshotPaths.count == 1
                    ? latest : (try? SnapshotReader.readSummary(path: series.snapshotPaths[0])) ?? latest
                let program = Path.lastComponent(of: latest.commandLine.first ?? latest.executable)
                processes[series.name] = Process(
                    pid: series.pid, image: series.image, name: program.isEmpty ? "?" : program, first: first.figures,
                    latest: latest.figures,
                    snapshots: series.snapshotPaths.count)
            }
        }
    }

    /// The pids that wrote at least one snapshot.
    var pids: Set<Int32> { Set(processes.values.map(\.pid)) }
}
