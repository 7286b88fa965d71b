import Foundation
import MemdriftCore
import MemdriftTestSupport
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Every verdict example, recorded once, concurrently (they mostly sleep), at a 1 s interval.
private let verdictSessions: [String: String] = {
    let runs: [(String, [String])] = [
        ("leaky", ["leaky-server", "20"]), ("steady", ["steady", "20"]), ("bounded", ["bounded-cache", "40", "1000", "100"]),
        ("sawtooth", ["sawtooth", "30", "3"]), ("mmap", ["mmap-growth", "30"]), ("slow", ["slow-leak", "60"]),
        ("child", ["leaky-child", "30"]), ("soak", ["soak-service", "45"]),
        ("tidy", ["leaky-server", "15", "1000", "4", "tidy"]),
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
        if (try? process.runWithSignalsUnblocked()) != nil {
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

    /// Anonymous mmap the malloc heap never sees: the mapping function is named, as a mapped leak.
    @Test func anonymousMmapGrowthIsAMappedLeakAtItsMappingFunction() throws {
        let r = try report("mmap")
        #expect(r["verdict"] as? String == "leak")
        let p = try #require(processes(r).first)
        #expect((p["rss"] as? [String: Any])?["classification"] as? String == "leak")
        #expect((p["heap"] as? [String: Any])?["classification"] as? String == "stable")
        #expect(firstSuspectFunction(p) == "map_region")
        #expect((p["suspects"] as? [[String: Any]])?.first?["metric"] as? String == "heap.mapped")
        let explained = try #require((p["rss_explained"] as? [String: Any])?["explained_fraction"] as? Double)
        #expect(explained > 0.8)
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
        #expect(try launch(Built.memdrift, ["gate", leaky, "--fail-on", "none,growth"]).status == 0)
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

/// Issue 11: a verdict a CI job can trust. Each test failed on the code before it.
@Suite struct TrustedVerdictTests {
    /// A slow leak on an error path under a sawtooth heap (batches freed every 20,000 requests)
    /// and a cache that fills: the leaking call site makes the process leak, and the gate fails.
    @Test func aLeakUnderASawtoothHeapFailsTheGate() throws {
        let r = try report("soak")
        let p = try #require(processes(r).first)
        #expect(p["verdict"] as? String == "leak")
        #expect(firstSuspectFunction(p) == "keep_error")
        let session = try #require(verdictSessions["soak"])
        #expect(try launch(Built.memdrift, ["gate", session]).status == 1)
        let gate = try launch(Built.memdrift, ["gate", session, "--max-heap-slope", "5MiB/h"])
        #expect(gate.status == 1, "\(gate.stdoutText)")
        #expect(gate.stdoutText.contains("FAIL pid") && gate.stdoutText.contains("keep_error"))
    }

    /// Suppressing the only leak calms the gate, even one that also fails on growth; the accepted
    /// call site is still listed with the pattern that accepted it.
    @Test func suppressedGrowthNeverFailsTheGate() throws {
        let leaky = try #require(verdictSessions["leaky"])
        let suppressions = try scratchDirectory() + "/accepted.supp"
        try Data("leak:remember_error\n".utf8).write(to: URL(fileURLWithPath: suppressions))
        let outcome = try launch(Built.memdrift, ["report", "--json", leaky, "--suppressions", suppressions])
        let r = try #require(try JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any])
        let p = try #require(processes(r).first)
        #expect(p["verdict"] as? String == "stable")
        let accepted = try #require((p["other_growth"] as? [[String: Any]])?.first)
        #expect(accepted["suppressed_by"] as? String == "remember_error")
        let gate = try launch(Built.memdrift, ["gate", leaky, "--suppressions", suppressions, "--fail-on", "leak,growth"])
        #expect(gate.status == 0, "\(gate.stdoutText)")
    }

    /// A program that leaks and frees everything at exit: the exit snapshot is shown, never judged,
    /// and text, JSON and HTML tell the same start, end and warm-up.
    @Test func shutdownDoesNotCorruptTheFigures() throws {
        let session = try #require(verdictSessions["tidy"])
        let r = try report("tidy")
        let p = try #require(processes(r).first)
        #expect(p["verdict"] as? String == "leak")
        let heap = try #require(p["heap"] as? [String: Any])
        let start = try #require(heap["start_bytes"] as? Int), end = try #require(heap["end_bytes"] as? Int)
        #expect(end > start)
        #expect((heap["slope_bytes_per_hour"] as? Double ?? 0) > 0)
        #expect((heap["teardown_bytes"] as? Int ?? -1) < start)
        let suspect = try #require((p["suspects"] as? [[String: Any]])?.first)
        #expect((suspect["growth_bytes"] as? Int ?? 0) > 0 && (suspect["growth_count"] as? Int ?? 0) > 0)

        let text = try launch(Built.memdrift, ["report", session]).stdoutText
        let html = try scratchDirectory() + "/r.html"
        #expect(try launch(Built.memdrift, ["report", "--html", html, session]).status == 0)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        let heapLine = try #require(text.split(separator: "\n").first { $0.hasPrefix("  heap ") })
        let figures = heapLine.dropFirst("  heap   ".count)
        #expect(page.contains("<dt>heap</dt><dd>\(htmlEscaped(String(figures)))</dd>"), "\(figures)")
        let span = try #require(text.split(separator: "\n").first { $0.contains("snapshots over") })
        #expect(page.contains("<dt>Snapshots</dt><dd>\(htmlEscaped(span.trimmingCharacters(in: .whitespaces)))</dd>"))
        let warmup = try #require(p["warmup_seconds"] as? Double)
        #expect(span.contains("warm-up \(formatSeconds(warmup)) excluded"))
    }

    @Test func failOnAddsToLeak() throws {
        let leaky = try #require(verdictSessions["leaky"])
        let growth = try launch(Built.memdrift, ["gate", leaky, "--fail-on", "growth"])
        #expect(growth.status == 1, "\(growth.stdoutText)")
        #expect(growth.stdoutText.contains("fails on: growth,leak"))
        #expect(try launch(Built.memdrift, ["gate", leaky, "--fail-on", "none"]).status == 0)
    }

    /// Absent values are null, never missing; a duration warm-up keeps the 10% minimum.
    @Test func jsonKeysAreNeverMissingAndWarmupsCombine() throws {
        let leaky = try #require(verdictSessions["leaky"])
        let outcome = try launch(Built.memdrift, ["report", "--json", "--warmup", "1s", leaky])
        let r = try #require(try JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any])
        let p = try #require(processes(r).first)
        let suspect = try #require((p["suspects"] as? [[String: Any]])?.first)
        #expect(suspect.keys.contains("suppressed_by") && suspect["suppressed_by"] is NSNull)
        #expect((p["warmup_seconds"] as? Double ?? 0) >= 1.9)  // 10% of 20 s, not 1 s
    }

    @Test func foldedAllocationsCountFromTheWarmupAndSuppressionsApply() throws {
        let leaky = try #require(verdictSessions["leaky"])
        func total(_ arguments: [String]) throws -> Int {
            let out = try launch(Built.memdrift, ["folded", leaky] + arguments).stdoutText
            return out.split(separator: "\n").compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        }
        let afterWarmup = try total(["--metric", "allocs"]), sinceStart = try total(["--metric", "allocs", "--from", "1"])
        #expect(afterWarmup > 0 && afterWarmup < sinceStart)
        let suppressions = try scratchDirectory() + "/s.supp"
        try Data("leak:remember_error\n".utf8).write(to: URL(fileURLWithPath: suppressions))
        let folded = try launch(Built.memdrift, ["folded", leaky, "--suppressions", suppressions]).stdoutText
        #expect(!folded.contains("remember_error"))
        #expect(try launch(Built.memdrift, ["folded", leaky]).stdoutText.contains("remember_error"))
    }
}

private func htmlEscaped(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;")
}

/// Seconds as memdrift words them (`2s`, `1.5s`).
private func formatSeconds(_ s: Double) -> String { Units.formatDuration(s) }

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
