import Foundation
import MemdriftCore
import Testing

@Suite(.serialized) struct RunTests {
    /// The programs the tests start, and the ones `memdrift run` starts, block no signal, whatever
    /// the test thread blocks.
    @Test func programsStartWithNoSignalBlocked() throws {
        let direct = try launch("/bin/grep", ["SigBlk", "/proc/self/status"])
        #expect(direct.stdoutText == "SigBlk:\t0000000000000000\n")
        let (traced, _) = try record(["/bin/grep", "SigBlk", "/proc/self/status"])
        #expect(traced.stdoutText == "SigBlk:\t0000000000000000\n")
    }

    @Test func theLeakingSiteIsTheTopGrower() throws {
        let leaky = Built.path("leaky-server")
        let (outcome, session) = try record([leaky, "0"], flags: ["--interval", "300ms", "--duration", "4s"])
        #expect(outcome.status == 0)
        #expect(outcome.stderrText.contains("memdrift: session \(session): 1 process"))
        #expect(outcome.stderrText.contains("leak suspects first"))

        let series = try #require(try Session.open(session).series.first)
        let snapshots = try series.loadSnapshots()
        #expect(snapshots.count >= 8)
        let last = try #require(snapshots.last)
        let top = try topGrower(in: session)
        let leak = try symbolRange("remember_error", in: leaky)
        let leaf = try #require(top.site.nativeLeaf)
        #expect(leaf.module.name == "leaky-server")
        #expect(leak.contains(leaf.offset))
        #expect(top.growth > 0 && top.growth % 248 == 0)  // whole error contexts
        // Request and response buffers are freed: their stacks hold nothing at the end.
        for name in ["parse_request", "build_response"] {
            let stacks = last.stacks(withLeafIn: try symbolRange(name, in: leaky), module: "leaky-server")
            #expect(!stacks.isEmpty && stacks.allSatisfy { $0.liveBytes == 0 && $0.allocatedCount > 100 })
        }
        #expect(last.commandLine == [leaky, "0"])
        #expect(last.modules.first?.buildID.isEmpty == false)
    }

    @Test(arguments: [
        [
            "/usr/bin/env", "python3", "-c",
            "import json, hashlib, ctypes; print(json.dumps({'a': [1, 2]}), hashlib.sha256(b'x').hexdigest())",
        ],
        ["/usr/bin/git", "--version"],
        ["/bin/ls", "-R", "/usr/share/doc"],
        ["/bin/sh", "-c", "seq 1 100000 | sort"],
        ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"],
    ])
    func outputAndExitCodeAreUntouched(command: [String]) throws {
        let plain = try launch(command[0], Array(command.dropFirst()))
        // Sampling takes paths exact mode does not (the sampling arithmetic among them).
        for flags in [["-q"], ["-q", "--sample-rate", "4KiB"]] {
            let (traced, session) = try record(command, flags: flags)
            #expect(traced.status == plain.status, "\(flags): \(traced.stderrText)")
            #expect(traced.stdout == plain.stdout, "\(flags)")
            #expect(traced.stderr == plain.stderr, "\(flags)")
            let snapshots = try Session.open(session).series.reduce(0) { $0 + $1.snapshotPaths.count }
            #expect(snapshots >= 1, "\(flags)")
        }
    }

    @Test func exitCodesForMissingCommandsAndBadInput() throws {
        let unused = try scratchDirectory() + "/s"
        let missing = try launch(Built.memdrift, ["run", "-q", "-o", unused, "--", "/nonexistent/program"])
        #expect(missing.status == 127)
        #expect(!FileManager.default.fileExists(atPath: unused))
        #expect(missing.stderrText.hasPrefix("memdrift: cannot start /nonexistent/program"))
        for arguments in [
            ["run"], ["run", "--interval", "1x", "--", "true"], ["run", "--depth", "0", "--", "true"],
            ["snapshot", "/nonexistent"], ["frobnicate"],
        ] {
            let bad = try launch(Built.memdrift, arguments)
            #expect(bad.status == 2, "\(arguments)")
            #expect(bad.stderrText.hasPrefix("memdrift: "), "\(arguments)")
            #expect(bad.stderrText.split(separator: "\n").count == 1, "\(arguments): \(bad.stderrText)")
        }
        let signalled = try record(["/bin/sh", "-c", "kill -9 $$"]).0
        #expect(signalled.status == 137)
    }

    @Test func snapshotOnDemandReachesARunningProcess() throws {
        let session = try scratchDirectory() + "/session"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Built.memdrift)
        process.arguments = ["run", "-q", "--interval", "1h", "-o", session, "--", Built.path("steady"), "20"]
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        usleep(500_000)
        let outcome = try launch(Built.memdrift, ["snapshot", session, "--wait", "5s"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let path = outcome.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(path.hasSuffix("snap-000002.mds"))  // the first is taken when tracking starts
        #expect(try SnapshotReader.read(path: path).header.reason == .request)
    }

    /// A run shorter than its interval still records every process: a first and a final snapshot.
    @Test func shortRunsRecordAFirstAndAFinalSnapshot() throws {
        let (outcome, session) = try record([Built.path("leaky-server"), "0"], flags: ["--duration", "3s"])
        #expect(outcome.status == 0)
        let series = try #require(try Session.open(session).series.first)
        let reasons = try series.loadSnapshots().map(\.header.reason)
        #expect(reasons.first == .start)
        #expect(reasons.count >= 2 && reasons.last == .request, "\(reasons)")
        let summary = try launch(Built.memdrift, ["report", session])
        #expect(summary.status == 0 && summary.stdoutText.contains("2 snapshots"))
    }

    /// Snapshots a killed process was writing are removed when the session ends.
    @Test func temporaryFilesGoWhenTheSessionEnds() throws {
        let session = try scratchDirectory() + "/session"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Built.memdrift)
        process.arguments = ["run", "-q", "--duration", "3s", "-o", session, "--", Built.path("steady"), "0"]
        try process.run()
        var planted: String?
        for _ in 0..<100 where planted == nil {
            usleep(50_000)
            if let series = try? Session.open(session).series.first {
                planted = "\(session)/\(series.name)/.snap-999999.tmp"
                try Data("cut".utf8).write(to: URL(fileURLWithPath: planted!))
            }
        }
        process.waitUntilExit()
        let path = try #require(planted)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// Parallel CI jobs start runs in the same second: each gets its own session.
    @Test func defaultSessionNamesNeverCollide() throws {
        let dir = try scratchDirectory()
        let runs = (0..<3).map { _ in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Built.memdrift)
            p.arguments = ["run", "-q", "--", "/bin/true"]
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            return p
        }
        for p in runs { try p.run() }
        for p in runs { p.waitUntilExit() }
        #expect(runs.allSatisfy { $0.terminationStatus == 0 })
        let sessions = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("memdrift-true-") }
        #expect(sessions.count == 3, "\(sessions)")
    }

    @Test func mistypedOptionsAreUsageErrorsNotCommands() throws {
        let outcome = try launch(Built.memdrift, ["run", "--durations", "10s", "--", "/bin/ls"])
        #expect(outcome.status == 2)
        #expect(outcome.stderrText == "memdrift: unknown option '--durations' (see 'memdrift help run')\n")
        #expect(outcome.stdout.isEmpty)
    }

    /// Gate options on `run` gate the run: a JUnit file a CI job waits for is written.
    @Test func gateOptionsOnRunImplyTheGate() throws {
        let junit = try scratchDirectory() + "/gate.xml"
        let (outcome, _) = try record(
            [Built.path("steady"), "3"], flags: ["--interval", "500ms", "--junit", junit, "--max-rss", "1GiB"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(outcome.stderrText.contains("gate options given"))
        #expect(FileManager.default.fileExists(atPath: junit))
        #expect(outcome.stderrText.contains("memdrift gate: PASS"))
        #expect(outcome.stdoutText == "steady: done\n" || !outcome.stdoutText.contains("memdrift"))
    }

    @Test func helpIsHelpNotACommand() throws {
        for flag in ["--help", "-h"] {
            let outcome = try launch(Built.memdrift, ["run", flag])
            #expect(outcome.status == 0)
            #expect(outcome.stdoutText.contains("USAGE: memdrift run"))
        }
    }
}
