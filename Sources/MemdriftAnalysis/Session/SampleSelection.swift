import MemdriftCore

/// Which samples the commands that compare two moments use: the same window the judge uses.
public enum SampleSelection {
    /// The indices of the samples the judge looks at: every one but teardown (exit, exec) snapshots.
    public static func judged(_ t: ProcessTimeline) -> [Int] { t.samples.indices.filter { !t.samples[$0].isFinal } }

    /// The first judged sample after the warm-up and the last judged one; nil without judged samples.
    public static func window(_ t: ProcessTimeline, options: AnalysisOptions) -> (from: Int, to: Int)? {
        let judged = judged(t)
        guard let last = judged.last else { return nil }
        let end = options.warmupEnd(judged.map { t.samples[$0].time })
        let from = judged.first { t.samples[$0].time >= end } ?? last
        return (from, last)
    }

    /// The sample that stands for a process's state: the last judged one, unless only the start
    /// snapshot was judged (a run shorter than its interval), then the last of all.
    public static func last(_ t: ProcessTimeline) -> Int? {
        judged(t).last { t.samples[$0].reason != .start } ?? t.samples.indices.last
    }

    /// The sample a source numbered `sequence` (a snapshot's sequence number).
    public static func sample(_ t: ProcessTimeline, sequence: UInt64) -> Int? {
        t.samples.firstIndex { $0.origin.sequence == sequence }
    }

    /// The process the session started with: the earliest to start, the command `run` launched.
    public static func main(_ session: SessionTimelines) -> ProcessTimeline? {
        session.processes.min { ($0.startWallClockNanos, $0.pid, $0.image) < ($1.startWallClockNanos, $1.pid, $1.image) }
    }

    /// A sample to compare: the snapshot a file holds, or the last judged sample of a session's main process.
    public static func single(_ session: SessionTimelines, isFile: Bool) -> SampleRef? {
        guard let main = isFile ? session.processes.first : main(session) else { return nil }
        guard let index = isFile ? main.samples.indices.last : last(main) else { return nil }
        return SampleRef(main, index)
    }
}
