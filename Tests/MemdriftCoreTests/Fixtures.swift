import MemdriftCore

/// Small synthetic snapshots for reader and session tests.
enum Fixtures {
    static func snapshot(pid: Int32 = 42, sequence: UInt64 = 1, leakBytes: UInt64 = 1000) -> Snapshot {
        let header = SnapshotHeader(
            flags: 0, reason: .interval, pid: pid, parentPID: 1, sequence: sequence,
            wallClockNanos: 1_700_000_000_000_000_000 + sequence * 1_000_000_000,
            monotonicNanos: 5_000_000_000 + sequence * 1_000_000_000,
            startWallClockNanos: 1_700_000_000_000_000_000, startMonotonicNanos: 5_000_000_000, intervalNanos: 1_000_000_000)
        var figures = ProcessFigures()
        figures[.vmRSS] = 6_000_000
        figures[.heapLiveBytes] = leakBytes + 4096
        figures[.heapLiveCount] = 3
        let modules = [
            Module(
                index: 0, base: 0x5555_0000_0000, start: 0x5555_0000_0000, end: 0x5555_0001_0000, buildID: [0xAB, 0xCD, 0x01],
                path: "/usr/bin/app"),
            Module(
                index: 1, isLoaded: false, base: 0x7F00_0000_0000, start: 0x7F00_0000_0000, end: 0x7F00_0020_0000, buildID: [],
                path: "/lib/x86_64-linux-gnu/libc.so.6"),
        ]
        let stacks = [
            CallStack(id: 0, frames: [], liveBytes: 0, liveCount: 0, allocatedBytes: 0, allocatedCount: 0),
            CallStack(
                id: 1,
                frames: [
                    Frame(module: 0, offset: 0x1234), Frame(module: 1, offset: 0x2724A),
                    Frame(module: Frame.noModule, offset: 0xDEAD),
                ],
                liveBytes: leakBytes, liveCount: leakBytes / 250, allocatedBytes: leakBytes * 3, allocatedCount: 12),
            CallStack(
                id: 2, frames: [Frame(module: 0, offset: 0x1300)], liveBytes: 4096, liveCount: 1, allocatedBytes: 4096,
                allocatedCount: 1),
            // Seen only by mmap: no heap counters.
            CallStack(
                id: 3, frames: [Frame(module: 0, offset: 0x1400)], liveBytes: 0, liveCount: 0, allocatedBytes: 0,
                allocatedCount: 0),
        ]
        let mapped = [
            MappedStack(stackID: 2, liveBytes: 8192, liveCount: 2, mappedBytes: 12288, mappedCount: 3),
            MappedStack(stackID: 3, liveBytes: 0, liveCount: 0, mappedBytes: 1 << 20, mappedCount: 1),
        ]
        figures[.mappedLiveBytes] = 8192
        figures[.mappedLiveCount] = 2
        figures[.mappedBytesTotal] = 12288 + (1 << 20)
        figures[.mappedCountTotal] = 4
        return Snapshot(
            header: header, executable: "/usr/bin/app", commandLine: ["app", "--port", "8080"], figures: figures,
            modules: modules, stacks: stacks, mapped: mapped)
    }

    /// A Python program's snapshot: the interpreter's evaluation frame (0x5000 in python3.11) runs
    /// build_session and handle_request; stacks 1 and 2 have the same native frames and differ in
    /// the line of build_session, stack 3 allocates in a C extension called from Python.
    static func pythonSnapshot(pid: Int32 = 42, sequence: UInt64 = 1) -> Snapshot {
        var snapshot = snapshot(pid: pid, sequence: sequence)
        snapshot.modules = [
            Module(index: 0, base: 0x40_0000, start: 0x40_0000, end: 0x90_0000, buildID: [1, 2, 3], path: "/usr/bin/python3.11"),
            Module(
                index: 1, base: 0x7F00_0000_0000, start: 0x7F00_0000_0000, end: 0x7F00_0001_0000, buildID: [4, 5],
                path: "/usr/lib/libz.so.1"),
        ]
        let malloc = Frame(module: 0, offset: 0x1000), evaluation = Frame(module: 0, offset: 0x5000)
        let main = Frame(module: 0, offset: 0x9000)
        snapshot.sourceFrames = [
            SourceFrame(runtime: "python", function: "build_session", file: "/srv/app.py", line: 23),
            SourceFrame(runtime: "python", function: "handle_request", file: "/srv/app.py", line: 31),
            SourceFrame(runtime: "python", function: "build_session", file: "/srv/app.py", line: 24),
            SourceFrame(runtime: "python", function: "open_compressor", file: "/srv/app.py", line: 27),
            SourceFrame(runtime: "python", function: "<module>", file: nil, line: nil),
        ]
        snapshot.stacks = [
            CallStack(id: 0, frames: [], liveBytes: 0, liveCount: 0, allocatedBytes: 0, allocatedCount: 0),
            CallStack(
                id: 1, frames: [malloc, evaluation, main],
                splices: [SourceSplice(nativeIndex: 1, replacedCount: 1, sourceFrames: [0, 1])], liveBytes: 500,
                liveCount: 5, allocatedBytes: 900, allocatedCount: 9),
            CallStack(
                id: 2, frames: [malloc, evaluation, main],
                splices: [SourceSplice(nativeIndex: 1, replacedCount: 1, sourceFrames: [2, 1])], liveBytes: 300,
                liveCount: 3, allocatedBytes: 300, allocatedCount: 3),
            CallStack(
                id: 3, frames: [Frame(module: 1, offset: 0x2000), Frame(module: 0, offset: 0x3000), evaluation],
                splices: [
                    SourceSplice(nativeIndex: 2, replacedCount: 1, sourceFrames: [3, 1]),
                    SourceSplice(nativeIndex: 3, replacedCount: 0, sourceFrames: [4]),
                ], liveBytes: 4096, liveCount: 1, allocatedBytes: 4096, allocatedCount: 1),
        ]
        snapshot.mapped = []
        return snapshot
    }
}
