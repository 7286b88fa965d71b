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
}
