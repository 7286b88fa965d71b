import Foundation
import MemdriftCore
import MemdriftTestSupport
import Testing

@Suite(.serialized) struct WatchTests {
    /// A running process and a child it starts later are recorded from /proc, nothing injected.
    @Test func recordsARunningTreeWithoutInjecting() throws {
        let tree = Process()
        tree.executableURL = URL(fileURLWithPath: "/bin/sh")
        tree.arguments = ["-c", "sleep 1; exec \(Built.path("leaky-server")) 3"]
        try tree.runWithSignalsUnblocked()
        defer {
            tree.terminate()
            tree.waitUntilExit()
        }
        let session = try scratchDirectory() + "/session"
        let outcome = try launch(
            Built.memdrift, ["watch", String(tree.processIdentifier), "--interval", "300ms", "--duration", "6s", "-o", session])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(outcome.stderrText.contains("memdrift: verdict"))
        let all = try Session.open(session).series
        // The shell, then the image it exec'd: numbered like the tracker's images.
        #expect(all.map(\.name).contains("pid-\(tree.processIdentifier).2"), "\(all.map(\.name))")
        for series in all {
            let snapshots = try series.loadSnapshots()
            #expect(snapshots.allSatisfy { $0.header.isObserved && $0.figures.rss > 0 })
        }
        let exec = try #require(all.first { $0.image == 2 })
        #expect(
            try SnapshotReader.read(path: try #require(exec.snapshotPaths.first)).commandLine.first == Built.path("leaky-server"))
        // The process was gone before the end: what was recorded stays, and every command reads it.
        let report = try launch(Built.memdrift, ["report", "--json", session])
        #expect(report.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any])
        let processes = try #require(json["processes"] as? [[String: Any]])
        #expect(processes.allSatisfy { ($0["sources"] as? [String]) == ["/proc"] && $0["heap"] is NSNull })
    }

    @Test func unknownAndForeignPidsAreOneLineErrors() throws {
        let missing = try launch(Built.memdrift, ["watch", "999999999"])
        #expect(missing.status == 2)
        #expect(missing.stderrText == "memdrift: no process with pid 999999999\n")
        let none = try launch(Built.memdrift, ["watch"])
        #expect(none.status == 2 && none.stderrText.split(separator: "\n").count == 1)
        guard geteuid() == 0 else { return }
        let foreign = try launch("/usr/sbin/runuser", ["-u", "nobody", "--", Built.memdrift, "watch", "1"])
        #expect(foreign.status == 2)
        #expect(foreign.stderrText.contains("pid 1 belongs to another user (uid 0)"))
    }
}
