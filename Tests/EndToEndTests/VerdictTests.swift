import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Every verdict example, recorded once, concurrently (they mostly sleep), at a 1 s interval.
private let verdictSessions: [String: String] = {
    let runs: [(String, [String])] = [
        ("leaky", ["leaky-server", "20"]), ("steady", ["steady", "20"]), ("bounded", ["bounded-cache", "40", "1000", "100"]),
        ("sawtooth", ["sawtooth", "30", "3"]), ("mmap", ["mmap-growth", "30"]), ("slow", ["slow-leak", "60"]),
        ("child", ["leaky-child", "30"]),
    ]
    var sessions: [String: String] = [:]
    var processes: [Process] = []
    for (name, command) in runs {
        guard let dir = try? scratchDirectory() else { continue }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Built.memdrift)
        process.arguments =
            ["run", "-q", "--interval", "1s", "-o", dir + "/s", "--", Built.path(command[0])] + command.dropFirst()
        process.standardOutput = FileHandle.nullDevice
        if (try? process.run()) != nil {
            processes.append(process)
            sessions[name] = dir + "/s"
        }
    }
    for p in processes { p.waitUntilExit() }
    return sessions
}()

/// `report --json` of a recorded example.
private func report(_ name: String) throws -> [String: Any] {
    let session = try #require(verdictSessions[name])
    let outcome = try launch(Built.memdrift, ["report", "--json", session])
    #expect(outcome.status == 0, "\(outcome.stderrText)")
    return try #require(try JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any])
}

private func processes(_ r: [String: Any]) -> [[String: Any]] { r["processes"] as? [[String: Any]] ?? [] }

private func firstSuspectFunction(_ p: [String: Any]) -> String? {
    ((p["suspects"] as? [[String: Any]])?.first?["frames"] as? [[String: Any]])?.first?["function"] as? String
}

@Suite struct VerdictTests {
    @Test func leakyProgramLeaksAtTheLeakingFunction() throws {
        let r = try report("leaky")
        #expect(r["schema"] as? String == "memdrift.report/1")
        #expect(r["verdict"] as? String == "leak")
        let p = try #require(processes(r).first)
        #expect(p["verdict"] as? String == "leak")
        #expect(firstSuspectFunction(p) == "remember_error")
        let heap = try #require(p["heap"] as? [String: Any])
        #expect((heap["slope_bytes_per_hour"] as? Double ?? 0) > 0)
        for key in ["pid", "command", "snapshots", "duration_seconds", "rss", "suspects"] { #expect(p[key] != nil, "\(key)") }
    }

    @Test func steadyProgramIsStable() throws {
        #expect(try report("steady")["verdict"] as? String == "stable")
    }

    @Test func boundedCacheIsNotALeakAlthoughItGrew() throws {
        let r = try report("bounded")
        #expect(r["verdict"] as? String != "leak")
        let p = try #require(processes(r).first)
        let others = try #require(p["other_growth"] as? [[String: Any]])
        #expect(others.first?["classification"] as? String == "bounded")
        let heap = try #require(p["heap"] as? [String: Any])
        #expect((heap["peak_bytes"] as? Int ?? 0) > 900_000)
    }

    @Test func sawtoothIsNotALeak() throws {
        let r = try report("sawtooth")
        #expect(r["verdict"] as? String != "leak")
        let p = try #require(processes(r).first)
        #expect((p["heap"] as? [String: Any])?["classification"] as? String == "sawtooth")
    }

    @Test func anonymousMmapGrowthIsGrowthNotLeak() throws {
        let r = try report("mmap")
        #expect(r["verdict"] as? String == "growth")
        let p = try #require(processes(r).first)
        #expect((p["rss"] as? [String: Any])?["classification"] as? String == "leak")
        #expect((p["heap"] as? [String: Any])?["classification"] as? String == "stable")
    }

    @Test func slowLeakUnderChurnIsFoundInSixtySeconds() throws {
        let r = try report("slow")
        #expect(r["verdict"] as? String == "leak")
        #expect(firstSuspectFunction(try #require(processes(r).first)) == "audit_request")
    }

    @Test func onlyTheLeakingChildIsFlagged() throws {
        let r = try report("child")
        let all = processes(r)
        #expect(all.count == 2)
        let leaking = all.filter { $0["verdict"] as? String == "leak" }
        #expect(leaking.count == 1)
        #expect(firstSuspectFunction(try #require(leaking.first)) == "worker_cache_entry")
        #expect(all.contains { $0["verdict"] as? String == "stable" })
    }

    @Test func gateExitCodesAndJUnit() throws {
        let leaky = try #require(verdictSessions["leaky"]), steady = try #require(verdictSessions["steady"])
        let junit = try scratchDirectory() + "/gate.xml"
        let fail = try launch(Built.memdrift, ["gate", leaky, "--junit", junit, "--max-rss", "1GiB"])
        #expect(fail.status == 1)
        #expect(fail.stdoutText.contains("FAIL pid"))
        #expect(fail.stdoutText.contains("remember_error (main.c:"))
        let counter = JUnitCounter()
        let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: junit)))
        parser.delegate = counter
        #expect(parser.parse())
        #expect(counter.testcases == 2 && counter.failures == 1)
        #expect(counter.failureMessages.first?.contains("remember_error") == true)

        #expect(try launch(Built.memdrift, ["gate", steady, "--max-heap-slope", "1MiB/h"]).status == 0)
        #expect(try launch(Built.memdrift, ["gate", leaky, "--fail-on", "growth"]).status == 0)
        let suppressions = try scratchDirectory() + "/leaks.supp"
        try Data("leak:remember_error\n".utf8).write(to: URL(fileURLWithPath: suppressions))
        #expect(try launch(Built.memdrift, ["gate", leaky, "--suppressions", suppressions]).status == 0)

        for bad in [
            ["gate", leaky, "--max-heap-slope", "fast"], ["gate", "/nonexistent"], ["gate", leaky, "--fail-on", "stable"],
            ["gate", leaky, "--suppressions", "/nonexistent.supp"], ["report", junit], ["diff", junit, junit],
        ] {
            let outcome = try launch(Built.memdrift, bad)
            #expect(outcome.status == 2, "\(bad)")
            #expect(outcome.stderrText.split(separator: "\n").count == 1, "\(bad): \(outcome.stderrText)")
        }
    }

    @Test func diffAcrossTwoRunsMatchesCallSites() throws {
        let first = try record([Built.path("leaky-server"), "1"]).1, second = try record([Built.path("leaky-server"), "2"]).1
        let outcome = try launch(Built.memdrift, ["diff", first, second, "--json", "--top", "3"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let doc = try #require(try JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any])
        let rows = try #require(((doc["diffs"] as? [[String: Any]])?.first)?["rows"] as? [[String: Any]])
        let top = try #require(rows.first)
        #expect(((top["frames"] as? [[String: Any]])?.first?["function"] as? String) == "remember_error")
        // Matched across the runs, so one row holds both sides.
        #expect((top["bytes_before"] as? Int ?? 0) > 0 && (top["delta_bytes"] as? Int ?? 0) > 0)
        let byFunction = try launch(Built.memdrift, ["diff", first, second, "--by", "function"])
        #expect(byFunction.stdoutText.contains("remember_error\n"))
    }
}

/// Counts JUnit test cases and failures.
final class JUnitCounter: NSObject, XMLParserDelegate {
    var testcases = 0
    var failures = 0
    var failureMessages: [String] = []

    func parser(
        _ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        if element == "testcase" { testcases += 1 }
        if element == "failure" {
            failures += 1
            failureMessages.append(attributes["message"] ?? "")
        }
    }
}
