import Foundation
import MemdriftCore
import Testing

/// Mapped memory by call site: the tracker's mmap, munmap, mremap and mprotect hooks.
extension TrackerTests {
    /// The table against a model that keeps every page, through mappings.c's C API without preloading.
    @Test func theMappingTableAgreesWithAPageByPageModel() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
            .standardizedFileURL.path
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
