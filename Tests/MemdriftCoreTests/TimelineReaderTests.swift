import Foundation
import Testing

@testable import MemdriftCore

@Suite struct TimelineReaderTests {
    @Test func everySnapshotIsASampleAndEveryStackACallSite() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for sequence: UInt64 in 1...3 {
            try write(
                Fixtures.snapshot(pid: 9, sequence: sequence, leakBytes: 1000 * sequence),
                to: "\(dir)/pid-9/snap-00000\(sequence).mds")
        }
        let session = try TimelineReader.read(dir)
        #expect(session.warnings.isEmpty)
        let t = try #require(session.processes.first)
        #expect(t.pid == 9 && t.name == "pid-9" && t.command == "app --port 8080")
        #expect(t.samples.map(\.time) == [1, 2, 3])
        #expect(t.samples.map { $0.metrics[.heapMalloc] } == [5096, 6096, 7096])
        let heap = try #require(t.attributed[.heapMalloc])
        #expect(heap.sites.count == 4)  // the empty stack, the leak, a steady one and one that only maps
        // Mapped memory, by the same call sites.
        let mapped = try #require(t.attributed[.heapMapped])
        #expect(t.samples.allSatisfy { $0.metrics[.heapMapped] != nil })
        #expect(mapped.sites.count == 2 && mapped.sites.allSatisfy { heap.position(of: $0) != nil })
        let leak = try #require(heap.sites.firstIndex { $0.frames.count == 3 })
        #expect(heap.histories[leak].liveBytes(at: [0, 1, 2]) == [1000, 2000, 3000])
        #expect(heap.histories[leak].counters(at: 2).allocatedBytes == 9000)
        guard case .native(let unknown) = heap.sites[leak].frames[2] else { return }
        #expect(unknown.module == .unknown && unknown.offset == 0xDEAD)
    }

    /// A damaged file costs that file: it is skipped with one warning naming it.
    @Test func aTruncatedSnapshotIsSkippedWithOneWarning() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for sequence: UInt64 in 1...3 {
            try write(Fixtures.snapshot(pid: 9, sequence: sequence), to: "\(dir)/pid-9/snap-00000\(sequence).mds")
        }
        let damaged = "\(dir)/pid-9/snap-000002.mds"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: damaged))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: damaged))
        let session = try TimelineReader.read(dir)
        #expect(session.processes.first?.samples.count == 2)
        #expect(session.warnings.count == 1)
        #expect(session.warnings.first?.contains("snap-000002.mds") == true)
    }

    @Test func nothingUsableLeftIsAnError() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(Fixtures.snapshot(pid: 9, sequence: 1), to: "\(dir)/pid-9/snap-000001.mds")
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: "\(dir)/pid-9/snap-000001.mds"))
        #expect(throws: FormatError.self) { try TimelineReader.read(dir) }
        #expect(throws: FormatError.self) { try TimelineReader.read("\(dir)/missing") }
    }

    @Test func aSnapshotFileIsATimelineOfOneSample() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(Fixtures.snapshot(pid: 9, sequence: 4), to: "\(dir)/one.mds")
        let session = try TimelineReader.read("\(dir)/one.mds")
        #expect(session.processes.count == 1)
        #expect(session.processes.first?.samples.first?.origin.sequence == 4)
    }

    @Test func liveOnlyReadingKeepsNoAllocationCounters() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(Fixtures.snapshot(pid: 9, sequence: 1), to: "\(dir)/pid-9/snap-000001.mds")
        let heap = try #require(try TimelineReader.read(dir, options: .liveOnly).processes.first?.attributed[.heapMalloc])
        #expect(heap.histories.allSatisfy { $0.counters(at: 0).allocatedBytes == 0 })
    }
}

@Suite struct DeltaSnapshotTests {
    /// A series in format 2: a checkpoint, then deltas that carry only what changed.
    private func series(in dir: String) throws -> [String] {
        var first = Fixtures.snapshot(pid: 9, sequence: 1, leakBytes: 1000)
        first.header.formatVersion = 2
        var paths: [String] = []
        func store(_ s: Snapshot) throws {
            let path = "\(dir)/pid-9/snap-00000\(s.header.sequence).mds"
            try write(s, to: path)
            paths.append(path)
        }
        try store(first)
        for sequence: UInt64 in 2...4 {
            var delta = first
            delta.header.sequence = sequence
            delta.header.monotonicNanos += (sequence - 1) * 1_000_000_000
            delta.header.flags |= 0x8
            delta.modules = []  // no module came or went
            // Only the leak changed; frames were given by the checkpoint.
            var leak = first.stacks[1]
            leak.frames = []
            leak.framesDefinedEarlier = true
            leak.liveBytes = 1000 * sequence
            delta.stacks = [leak]
            delta.mapped = []
            try store(delta)
        }
        return paths
    }

    @Test func deltasMoveTheStateOn() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try series(in: dir)
        let session = try TimelineReader.read(dir)
        #expect(session.warnings.isEmpty)
        let t = try #require(session.processes.first)
        let heap = try #require(t.attributed[.heapMalloc])
        let leak = try #require(heap.sites.firstIndex { $0.frames.count == 3 })
        #expect(heap.histories[leak].liveBytes(at: [0, 1, 2, 3]) == [1000, 2000, 3000, 4000])
        // The steady stack was not listed again: it keeps its value.
        let steady = try #require(heap.histories.firstIndex { $0.counters(at: 0).liveBytes == 4096 })
        #expect(heap.histories[steady].liveBytes(at: [0, 3]) == [4096, 4096])
    }

    /// Stacks the tracker tells apart but naming cannot (two addresses in one JIT function) are one
    /// call site holding what both hold, also when a delta lists only one of them.
    @Test func stacksOfOneCallSiteAddUp() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var first = Fixtures.snapshot(pid: 9, sequence: 1, leakBytes: 1000)
        first.header.formatVersion = 2
        var twin = first.stacks[1]
        twin.id = 7
        twin.liveBytes = 500
        first.stacks.append(twin)
        try write(first, to: "\(dir)/pid-9/snap-000001.mds")
        var delta = first
        delta.header.sequence = 2
        delta.header.monotonicNanos += 1_000_000_000
        delta.header.flags |= 0x8
        delta.modules = []
        twin.frames = []
        twin.framesDefinedEarlier = true
        twin.liveBytes = 800
        delta.stacks = [twin]
        delta.mapped = []
        try write(delta, to: "\(dir)/pid-9/snap-000002.mds")
        let heap = try #require(try TimelineReader.read(dir).processes.first?.attributed[.heapMalloc])
        #expect(heap.sites.count == 4)
        let site = try #require(heap.sites.firstIndex { $0.frames.count == 3 })
        #expect(heap.histories[site].liveBytes(at: [0, 1]) == [1500, 1800])
    }

    /// A damaged delta costs itself and the deltas after it, up to the next checkpoint.
    @Test func aDamagedDeltaCostsWhatBuildsOnIt() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let paths = try series(in: dir)
        try Data("cut".utf8).write(to: URL(fileURLWithPath: paths[1]))
        let session = try TimelineReader.read(dir)
        #expect(session.processes.first?.samples.count == 1)
        #expect(session.warnings.count == 2)
        #expect(session.warnings.last == "skipped 2 later snapshots of pid-9 that only record changes since a damaged one")
    }

    @Test func longSeriesKeepEveryFewSamplesButEveryChange() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try series(in: dir)
        var options = TimelineReadOptions()
        options.maximumSamples = 2
        let t = try #require(try TimelineReader.read(dir, options: options).processes.first)
        #expect(t.samples.map(\.origin.sequence) == [1, 3, 4])
        let heap = try #require(t.attributed[.heapMalloc])
        let leak = try #require(heap.sites.firstIndex { $0.frames.count == 3 })
        #expect(heap.histories[leak].liveBytes(at: [0, 1, 2]) == [1000, 3000, 4000])
    }
}

@Suite struct TeardownTests {
    /// A timeline of heap figures one second apart; the last sample is the final one at exit.
    private func timeline(_ heap: [Double]) -> ProcessTimeline {
        var t = ProcessTimeline(
            pid: 1, image: 1, parentPID: 0, name: "pid-1", executable: "/bin/x", commandLine: ["x"], startWallClockNanos: 0)
        for (i, value) in heap.enumerated() {
            t.samples.append(
                Sample(
                    time: Double(i), wallClockNanos: 0, reason: i == heap.count - 1 ? .exit : .interval,
                    isFinal: i == heap.count - 1, metrics: [.heapMalloc: value], origin: SampleOrigin(path: "", sequence: 0)))
        }
        return t
    }

    private func finals(_ heap: [Double]) -> [Bool] {
        var t = timeline(heap)
        TimelineReader.markTeardown(&t)
        return t.samples.map(\.isFinal)
    }

    @Test func samplesFallingIntoTheExitAreTeardown() {
        let mib = Double(1 << 20)
        // Grows to 47 MiB, then a periodic snapshot catches the frees at exit.
        #expect(
            finals([10 * mib, 20 * mib, 30 * mib, 47 * mib, 2.4 * mib, 0.8 * mib]) == [false, false, false, false, true, true])
        #expect(finals([10 * mib, 20 * mib, 30 * mib, 47 * mib, 20 * mib, 5 * mib, 0.8 * mib]).suffix(3) == [true, true, true])
    }

    @Test func aSteadyOrGrowingEndIsJudged() {
        let mib = Double(1 << 20)
        #expect(finals([10 * mib, 20 * mib, 30 * mib, 40 * mib, 0.8 * mib]) == [false, false, false, false, true])
        // Small wobbles (under 5%) and a fall long before the exit are the run's own.
        #expect(finals([10 * mib, 20 * mib, 19.5 * mib, 19.4 * mib, 0.8 * mib]) == [false, false, false, false, true])
        #expect(finals([40 * mib, 5 * mib, 6 * mib, 7 * mib, 8 * mib, 9 * mib, 0.8 * mib]).filter { $0 }.count == 1)
    }
}
