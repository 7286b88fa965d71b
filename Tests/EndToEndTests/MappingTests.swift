import Foundation
import MemdriftCore
import Testing

/// Mapped memory by call site: the tracker's mmap, munmap, mremap and mprotect hooks.
extension TrackerTests {
    /// Live mapped memory of the stacks whose leaf is `site`, summed.
    struct Mapped: Equatable, CustomStringConvertible {
        var pages: UInt64 = 0, ranges: UInt64 = 0, mappedPages: UInt64 = 0, calls: UInt64 = 0
        var description: String { "\(pages) pages in \(ranges) ranges, \(mappedPages) pages in \(calls) calls" }
    }

    func mapped(_ site: String, in snapshot: Snapshot, program: String) throws -> Mapped {
        let ids = Set(
            snapshot.stacks(withLeafIn: try symbolRange(site, in: program), module: (program as NSString).lastPathComponent)
                .map(\.id))
        var total = Mapped()
        for m in snapshot.mapped where ids.contains(m.stackID) {
            total.pages += m.liveBytes / 4096
            total.ranges += m.liveCount
            total.mappedPages += m.mappedBytes / 4096
            total.calls += m.mappedCount
        }
        return total
    }

    /// The two series of Examples/mmap-calls: the parent's and its forked child's.
    func parentAndChild(_ session: String) throws -> (parent: [Snapshot], child: [Snapshot]) {
        let all = try Session.open(session).series.map { try $0.loadSnapshots() }
        try #require(all.count == 2 && all.allSatisfy { !$0.isEmpty })
        let childFirst = all[1][0].header.parentPID == all[0][0].header.pid
        return childFirst ? (all[0], all[1]) : (all[1], all[0])
    }

    @Test func mmapGrowthHoldsItsRegionsUnderMapRegion() throws {
        let program = Built.path("mmap-growth")
        let (outcome, session) = try record([program, "1", "512"])
        #expect(outcome.status == 0)
        let regions = try #require(
            outcome.stdoutText.split(separator: " ").dropFirst().first.flatMap { UInt64($0) }, "\(outcome.stdoutText)")
        let last = try #require(try Session.open(session).series.first?.loadSnapshots().last)
        let chunk: UInt64 = 13 * 4096  // 512 KiB / 10, rounded up to pages
        let held = try mapped("map_region", in: last, program: program)
        #expect(held == Mapped(pages: regions * 13, ranges: regions, mappedPages: regions * 13, calls: regions))
        #expect(last.figures.mappedLiveBytes == regions * chunk)
        // churn's mallocs are heap, never mapped.
        #expect(try mapped("churn", in: last, program: program) == Mapped())
    }

    /// Pages expected per function of Examples/mmap-calls at the parent's exit.
    static let expectedMappings: [String: Mapped] = [
        "split_by_munmap": Mapped(pages: 6, ranges: 2, mappedPages: 8, calls: 1),
        "map_for_remap": Mapped(pages: 4, ranges: 1, mappedPages: 4, calls: 1),
        "remap_grow": Mapped(pages: 2, ranges: 1, mappedPages: 6, calls: 1),
        "commit_pages": Mapped(pages: 20, ranges: 3, mappedPages: 32, calls: 3),
        "recommit_pages": Mapped(pages: 4, ranges: 1, mappedPages: 4, calls: 1),
        "map_to_replace": Mapped(pages: 4, ranges: 2, mappedPages: 8, calls: 1),
        "replace_fixed": Mapped(pages: 4, ranges: 1, mappedPages: 4, calls: 1),
        "map_file_private": Mapped(pages: 4, ranges: 1, mappedPages: 4, calls: 1),
        "map_shared_anon": Mapped(pages: 3, ranges: 1, mappedPages: 3, calls: 1),
        "remap_copy": Mapped(pages: 2, ranges: 1, mappedPages: 2, calls: 1),
        // Reservations, read-only and shared file mappings, moves, shrinks and decommits add nothing.
        "remap_shrink": Mapped(), "remap_move": Mapped(), "reserve_space": Mapped(), "decommit_pages": Mapped(),
        "map_file_readonly": Mapped(), "map_file_shared": Mapped(), "big_malloc": Mapped(),
    ]

    @Test(arguments: [[], ["--sample-rate", "64KiB"]])
    func everyMappingCallCountsAgainstItsCaller(sampling: [String]) throws {
        let program = Built.path("mmap-calls")
        let (outcome, session) = try record([program], flags: ["-q"] + sampling)
        #expect(outcome.status == 0)
        #expect(outcome.stdoutText == "mmap-calls: ok\n")
        let parent = try #require(try parentAndChild(session).parent.last)
        for (site, expected) in Self.expectedMappings {
            #expect(try mapped(site, in: parent, program: program) == expected, "\(site)")
        }
        // Nothing else is mapped memory: not glibc's mmap inside malloc, not the tracker's own.
        #expect(parent.figures[.mappedLiveBytes] == 53 * 4096)
        #expect(parent.figures[.mappedLiveCount] == 14)
        #expect(parent.figures[.mappedBytesTotal] == 75 * 4096)
        #expect(parent.figures[.mappedCountTotal] == 12)
        #expect(parent.figures.trackerBytes > 0)
        let stacks = Dictionary(uniqueKeysWithValues: parent.stacks.map { ($0.id, $0) })
        for m in parent.mapped {
            let leaf = stacks[m.stackID]?.frames.first.flatMap { parent.module(of: $0) }
            #expect(leaf?.name == "mmap-calls", "stack \(m.stackID) has its leaf in \(leaf?.path ?? "no module")")
        }
        // glibc maps 1 MiB blocks itself: they are heap.
        if sampling.isEmpty {
            let big = parent.stacks(withLeafIn: try symbolRange("big_malloc", in: program), module: "mmap-calls")
            #expect(big.reduce(0) { $0 + $1.liveBytes } == 3 << 20)
        }
    }

    @Test func aForkedChildStartsFromTheMappingsItInherited() throws {
        let program = Built.path("mmap-calls")
        let (outcome, session) = try record([program])
        #expect(outcome.status == 0)
        let child = try parentAndChild(session).child
        let first = try #require(child.first), last = try #require(child.last)
        #expect(child.count >= 2 && last.header.isFinal)
        for (site, expected) in Self.expectedMappings {
            #expect(try mapped(site, in: first, program: program) == expected, "\(site) as inherited")
        }
        #expect(try mapped("child_maps", in: first, program: program) == Mapped())
        #expect(try mapped("child_maps", in: last, program: program) == Mapped(pages: 5, ranges: 1, mappedPages: 5, calls: 1))
        #expect(
            try mapped("map_shared_anon", in: last, program: program) == Mapped(pages: 0, ranges: 0, mappedPages: 3, calls: 1))
        #expect(last.figures.mappedLiveBytes == (53 - 3 + 5) * 4096)
    }

    /// The table against a model that keeps every page, through mappings.c's C API without preloading.
    @Test func theMappingTableAgreesWithAPageByPageModel() throws {
        let root = repositoryRoot
        let tracker = root + "/Sources/MemdriftTracker"
        let checker = try scratchDirectory() + "/mappings-check"
        let built = try launch(
            "/usr/bin/cc",
            [
                "-O1", "-D_GNU_SOURCE", "-I" + tracker, "-I" + tracker + "/include", root + "/Tests/TrackerC/mappings-check.c",
                tracker + "/mappings.c", tracker + "/memory.c", "-o", checker,
            ])
        try #require(built.status == 0, "\(built.stderrText)")
        for seed in ["1", "2", "3"] {
            let run = try launch(checker, ["20000", seed])
            #expect(run.status == 0, "\(run.stderrText)")
            #expect(run.stdoutText == "mappings-check: ok\n")
        }
    }
}
