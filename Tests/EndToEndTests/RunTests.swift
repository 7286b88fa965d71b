import Foundation
import MemdriftCore
import Testing

@Suite(.serialized) struct RunTests {
    @Test func theLeakingSiteIsTheTopGrower() throws {
        let leaky = Built.path("leaky-server")
        let (outcome, session) = try record([leaky, "0"], flags: ["--interval", "300ms", "--duration", "4s"])
        #expect(outcome.status == 0)
        #expect(outcome.stderrText.contains("memdrift: session \(session): 1 process"))
        #expect(outcome.stderrText.contains("top growing call sites"))

        let series = try #require(try Session.open(session).series.first)
        let snapshots = try series.loadSnapshots()
        #expect(snapshots.count >= 8)
        let first = try #require(snapshots.first), last = try #require(snapshots.last)
        let top = try #require(StackGrowth.ranking(from: first, to: last).first)
        let leak = try symbolRange("remember_error", in: leaky)
        let leaf = try #require(top.stack.frames.first)
        #expect(last.module(of: leaf)?.name == "leaky-server")
        #expect(leak.contains(leaf.offset))
        #expect(top.deltaBytes > 0 && top.deltaBytes % 248 == 0)  // whole error contexts
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
        #expect(path.hasSuffix("snap-000001.mds"))
        #expect(try SnapshotReader.read(path: path).header.reason == .request)
    }
}
