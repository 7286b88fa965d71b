import FoundationEssentials
import Glibc
import MemdriftCore

/// Keeps a long session within a size budget by thinning the middle of every series: the start
/// (where the warm-up ends) and the recent window keep every snapshot, and in between every other
/// snapshot is folded into the next one.
///
/// Folding never loses a change: a delta folded into the next carries the changes of both, so the
/// state at every snapshot that remains is exactly what it was. What thinning costs is resolution
/// in the middle of the run: cycles shorter than the wider spacing there are not seen as cycles.
/// Runtime heap samples (JavaScript, Go) are whole profiles: every other one in the middle goes.
struct SessionThinner {
    let session: String
    /// Bytes the session may take.
    let budget: UInt64
    /// Fractions of a series' time span kept at full resolution at its start and at its end.
    let keptStart = 0.15
    let keptEnd = 0.2

    /// Thins when the session is over budget; returns how many snapshots were folded or removed.
    @discardableResult
    func thinIfNeeded() -> Int {
        var size = directorySize(session)
        var removed = 0
        // Each pass halves the middle of every series; a few passes reach any budget.
        for _ in 0..<8 where size > budget {
            let before = removed
            for name in (try? FileManager.default.contentsOfDirectory(atPath: session)) ?? [] {
                let directory = Path.join(session, name)
                if SnapshotSeries.parseName(name) != nil {
                    removed += thinSnapshots(directory)
                } else if name.hasPrefix("js-") || name.hasPrefix("go-") {
                    removed += thinProfiles(directory)
                }
            }
            if removed == before { break }
            size = directorySize(session)
        }
        return removed
    }

    /// Every other file of the middle of a series, given its files' times in order: indices of
    /// files whose next one is in the middle too, leaving the kept ends alone.
    func middle(_ times: [UInt64]) -> [Int] {
        guard let first = times.first, let last = times.last, last > first else { return [] }
        let span = Double(last - first)
        let low = first + UInt64(span * keptStart), high = last - UInt64(span * keptEnd)
        let inside = times.indices.filter { times[$0] >= low && times[$0] <= high }
        return stride(from: 0, to: inside.count - 1, by: 2).map { inside[$0] }
    }

    /// Folds every other snapshot of the middle into the one after it.
    private func thinSnapshots(_ directory: String) -> Int {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .compactMap { name in SnapshotSeries.parseSnapshotName(name).map { ($0, Path.join(directory, name)) } }
            .sorted { $0.0 < $1.0 }.map(\.1)
        let headers = files.map { try? SnapshotReader.readHeader(path: $0) }
        // A damaged file is left where it is, and with it the whole series this time.
        let times = headers.compactMap { $0?.monotonicNanos }
        guard times.count == files.count else { return 0 }
        var folded = 0
        for index in middle(times) {
            guard let earlier = try? SnapshotReader.read(path: files[index]),
                let later = try? SnapshotReader.read(path: files[index + 1]),
                !earlier.header.isFinal, earlier.header.pid == later.header.pid
            else { continue }
            let merged = Snapshot.combined(earlier, later)
            let name = Path.lastComponent(of: files[index + 1])
            guard SessionFiles.writeAtomically(SnapshotEncoder.encode(merged), directory: directory, name: name) == nil else {
                continue
            }
            unlink(files[index])
            folded += 1
        }
        return folded
    }

    /// Removes every other profile of the middle.
    private func thinProfiles(_ directory: String) -> Int {
        // Profiles are named by their CLOCK_MONOTONIC time: heap-<ns>.json, heap-<ns>.pb.gz.
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .compactMap { name -> (UInt64, String)? in
                guard name.hasPrefix("heap-"), let ns = UInt64(name.dropFirst(5).prefix { $0.isNumber }) else { return nil }
                return (ns, name)
            }.sorted { $0.0 < $1.0 }
        var removed = 0
        for index in middle(files.map(\.0)) where unlink(Path.join(directory, files[index].1)) == 0 { removed += 1 }
        return removed
    }
}
