import Foundation
import MemdriftCore
import Testing

/// Source frames (a Python program's functions and lines) in snapshots and call sites.
@Suite struct SourceFramesTests {
    let path = "python.mds"

    @Test func sourceFramesAndSplicesRoundTrip() throws {
        let original = Fixtures.pythonSnapshot()
        let decoded = try SnapshotReader.decode(SnapshotEncoder.encode(original), path: path)
        #expect(decoded.sourceFrames == original.sourceFrames)
        #expect(decoded.stacks == original.stacks)
        #expect(decoded.sourceFrames[4].file == nil && decoded.sourceFrames[4].line == nil)
    }

    @Test func splicesReplaceTheNativeFramesTheyStandFor() {
        let stacks = Fixtures.pythonSnapshot().stacks
        let names = { (s: CallStack) in s.interleaved(native: { "0x\(String($0.offset, radix: 16))" }, source: { "#\($0)" }) }
        #expect(names(stacks[1]) == ["0x1000", "#0", "#1", "0x9000"])
        #expect(names(stacks[3]) == ["0x2000", "0x3000", "#3", "#1", "#4"])
        #expect(names(stacks[0]).isEmpty)
    }

    /// Two lines of one function are two call sites although their native frames are the same.
    @Test func callSitesCarryPythonFramesInPlaceOfTheInterpreter() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(Fixtures.pythonSnapshot(pid: 7, sequence: 1), to: "\(dir)/pid-7/snap-000001.mds")
        let heap = try #require(try TimelineReader.read(dir).processes.first?.attributed[.heapMalloc])
        let build23 = CallFrame.source(SourceFrame(runtime: "python", function: "build_session", file: "/srv/app.py", line: 23))
        let build24 = CallFrame.source(SourceFrame(runtime: "python", function: "build_session", file: "/srv/app.py", line: 24))
        let sites = heap.sites.filter { $0.frames.count == 4 }
        #expect(Set(sites.map { $0.frames[1] }) == [build23, build24])
        #expect(
            sites.allSatisfy {
                $0.frames[2] == .source(SourceFrame(runtime: "python", function: "handle_request", file: "/srv/app.py", line: 31))
            })
        guard case .native(let leaf)? = sites.first?.frames.first else {
            Issue.record("the leaf is not native")
            return
        }
        #expect(leaf.module.name == "python3.11" && leaf.offset == 0x1000)
        let c = try #require(heap.sites.first { $0.frames.count == 5 })
        guard case .native(let zlib) = c.frames[0], case .source(let caller) = c.frames[2] else {
            Issue.record("not a C frame, then the Python line")
            return
        }
        #expect(zlib.module.name == "libz.so.1" && caller.function == "open_compressor")
    }

    /// A reader that does not know the source sections reads the native frames: what older
    /// memdrift versions see in a Python program's snapshots.
    @Test func withoutTheSourceSectionsStacksAreNative() throws {
        var snapshot = Fixtures.pythonSnapshot()
        let bytes = SnapshotEncoder.encode(snapshot)
        // Sections 6 and 7 come last: drop them and say there are five.
        let sixth = try #require(sectionStart(6, in: bytes))
        var body = Array(bytes[..<sixth])
        body[88] = 5
        let decoded = try SnapshotReader.decode(sealed(body), path: path)
        for i in snapshot.stacks.indices { snapshot.stacks[i].splices = [] }
        #expect(decoded.stacks == snapshot.stacks)
        #expect(decoded.sourceFrames.isEmpty)
    }

    /// In format 2 a delta names only the source frames new since the snapshot before it; a stack it
    /// gives may use older ones, and a merged delta carries both.
    @Test func aDeltaNamesOnlyNewSourceFramesAndItsStacksUseOlderOnes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var checkpoint = Fixtures.pythonSnapshot(pid: 7, sequence: 1)
        checkpoint.header.formatVersion = 2
        checkpoint.sourceFrames.removeLast()  // <module> is named by the delta
        checkpoint.stacks.removeLast()
        var delta = Fixtures.pythonSnapshot(pid: 7, sequence: 2)
        delta.header.formatVersion = 2
        delta.header.flags |= 0x8
        delta.modules = []
        delta.sourceFrames = [SourceFrame(runtime: "python", function: "<module>", file: "/srv/app.py", line: 90)]
        delta.firstSourceFrame = 4
        var old = checkpoint.stacks[1]
        old.frames = []
        old.splices = []
        old.framesDefinedEarlier = true
        old.liveBytes = 800
        delta.stacks = [old, Fixtures.pythonSnapshot().stacks[3]]
        let decoded = try SnapshotReader.decode(SnapshotEncoder.encode(delta), path: path)
        #expect(decoded.firstSourceFrame == 4 && decoded.sourceFrames.count == 1)
        try write(checkpoint, to: "\(dir)/pid-7/snap-000001.mds")
        try write(delta, to: "\(dir)/pid-7/snap-000002.mds")
        let heap = try #require(try TimelineReader.read(dir).processes.first?.attributed[.heapMalloc])
        let c = try #require(heap.sites.first { $0.frames.count == 5 })
        #expect(c.frames[2] == .source(Fixtures.pythonSnapshot().sourceFrames[3]))
        #expect(c.frames[4] == .source(SourceFrame(runtime: "python", function: "<module>", file: "/srv/app.py", line: 90)))
        let leak = try #require(
            heap.sites.firstIndex { $0.frames.count == 4 && $0.frames[1] == .source(checkpoint.sourceFrames[0]) })
        #expect(heap.histories[leak].liveBytes(at: [0, 1]) == [500, 800])
        // Merged, as the session thinner merges them: one whole snapshot with every name.
        let merged = Snapshot.combined(checkpoint, delta)
        #expect(!merged.header.isDelta && merged.firstSourceFrame == 0 && merged.sourceFrames.count == 5)
        #expect(merged.stacks.first { $0.id == 1 }?.splices == checkpoint.stacks[1].splices)
    }

    @Test func rejectsSplicesThatDoNotFit() {
        var badID = Fixtures.pythonSnapshot()
        badID.stacks[1].splices[0].sourceFrames = [0, 9]
        #expect(corruption(badID) == "source frame 9 of 5")
        var past = Fixtures.pythonSnapshot()
        past.stacks[1].splices[0].replacedCount = 3
        #expect(corruption(past) == "splice of stack 1 replaces frames 1..<4 of 3")
        var overlapping = Fixtures.pythonSnapshot()
        overlapping.stacks[3].splices[1].nativeIndex = 2
        #expect(corruption(overlapping) == "splice of stack 3 replaces frames 2..<2 of 3")
    }

    @Test func randomBytesInTheSourceSectionsNeverCrash() throws {
        var rng = SplitMix64(seed: 11)
        let valid = SnapshotEncoder.encode(Fixtures.pythonSnapshot())
        let start = try #require(sectionStart(6, in: valid))
        for _ in 0..<3000 {
            var bytes = Array(valid.prefix(valid.count - 24))
            let at = start + Int(rng.next() % UInt64(bytes.count - start))
            bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            _ = try? SnapshotReader.decode(sealed(bytes), path: path)
        }
    }

    private func corruption(_ snapshot: Snapshot) -> String? {
        do {
            _ = try SnapshotReader.decode(SnapshotEncoder.encode(snapshot), path: path)
            return nil
        } catch {
            guard case .corrupt(_, _, let detail) = error else { return nil }
            return detail
        }
    }

    /// Where the section of `kind` starts (its kind field), in an encoded snapshot.
    private func sectionStart(_ kind: UInt32, in bytes: [UInt8]) -> Int? {
        func integer(_ at: Int, _ size: Int) -> Int { (0..<size).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        var at = SnapshotFormat.headerBytes
        for _ in 0..<integer(88, 4) {
            if integer(at, 4) == Int(kind) { return at }
            at += 16 + integer(at + 8, 8)
        }
        return nil
    }

    /// `body` (a snapshot without its trailer) with a trailer that matches it.
    private func sealed(_ body: [UInt8]) -> [UInt8] {
        var out = body + SnapshotFormat.trailerMagic
        let length = UInt64(out.count + 16)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        let sum = out.withUnsafeBytes { SnapshotFormat.checksum($0) }
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: sum >> (8 * UInt64(i)))) }
        return out
    }
}
