import Foundation
import Testing

/// A short recording of the leaky example shared by the export tests.
private let leakySession: String? = try? record(
    [Built.path("leaky-server"), "0"], flags: ["-q", "--interval", "250ms", "--duration", "3s"]
).1

/// Lines of Brendan Gregg's folded format: frames joined by ';', a space, then one or two integers.
private func parseFolded(_ text: String, values: Int) -> [(frames: [String], values: [Int64])] {
    text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
        var parts = line.split(separator: " ", omittingEmptySubsequences: false)
        var numbers: [Int64] = []
        for _ in 0..<values { numbers.insert(Int64(parts.removeLast()) ?? -1, at: 0) }
        return (parts.joined(separator: " ").split(separator: ";", omittingEmptySubsequences: false).map(String.init), numbers)
    }
}

@Suite struct FoldedTests {
    @Test func growthPutsTheLeakOnTheLargestLine() throws {
        let session = try #require(leakySession)
        let outcome = try launch(Built.memdrift, ["folded", session, "--metric", "growth"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let lines = parseFolded(outcome.stdoutText, values: 1)
        #expect(!lines.isEmpty)
        let largest = try #require(lines.max { $0.values[0] < $1.values[0] })
        #expect(largest.frames.last == "remember_error")
        #expect(largest.frames.first == "_start")  // root first
        #expect(largest.frames.suffix(3) == ["main", "handle_request", "remember_error"])
    }

    @Test func outputIsFlamegraphPlSyntax() throws {
        let session = try #require(leakySession)
        // flamegraph.pl reads `stack count` lines: no empty frames, no ';' or newline inside a frame,
        // a single space before an integer count, and the stack itself may contain spaces.
        let single = try #require(try? NSRegularExpression(pattern: #"^[^;\n]+(;[^;\n]+)* [0-9]+$"#))
        let double = try #require(try? NSRegularExpression(pattern: #"^[^;\n]+(;[^;\n]+)* [0-9]+ [0-9]+$"#))
        for (arguments, regex) in [
            (["--metric", "live", "--lines"], single), (["--metric", "allocs"], single), (["--diff"], double),
            (["--metric", "alloc-bytes", "--full-stacks"], single),
        ] {
            let outcome = try launch(Built.memdrift, ["folded", session] + arguments)
            #expect(outcome.status == 0, "\(arguments): \(outcome.stderrText)")
            #expect(outcome.stdoutText.hasSuffix("\n"))
            for line in outcome.stdoutText.split(separator: "\n") {
                let text = String(line)
                #expect(regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil, "\(arguments): \(text)")
            }
        }
        let diff = parseFolded(try launch(Built.memdrift, ["folded", session, "--diff"]).stdoutText, values: 2)
        let leak = try #require(diff.first { $0.frames.last == "remember_error" })
        #expect(leak.values[1] > leak.values[0])
    }

    @Test func snapshotsFromTwoRunsCompareByName() throws {
        let session = try #require(leakySession)
        let other = try record([Built.path("leaky-server"), "1"]).1
        let last = { (dir: String) throws -> String in
            let series = try #require(try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("pid-") })
            let snaps = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/\(series)").filter { $0.hasSuffix(".mds") }
                .sorted()
            return "\(dir)/\(series)/\(try #require(snaps.last))"
        }
        let outcome = try launch(Built.memdrift, ["folded", try last(session), "--from", try last(other), "--diff"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let leak = try #require(parseFolded(outcome.stdoutText, values: 2).first { $0.frames.last == "remember_error" })
        #expect(leak.values[0] > 0 && leak.values[1] > 0)
    }

    @Test func badArgumentsAreOneLineAndExitTwo() throws {
        let session = try #require(leakySession)
        for arguments in [
            ["folded", session, "--metric", "weight"], ["folded", session, "--from", "999"], ["folded", "/nonexistent"],
        ] {
            let outcome = try launch(Built.memdrift, arguments)
            #expect(outcome.status == 2, "\(arguments)")
            #expect(outcome.stderrText.split(separator: "\n").count == 1, "\(arguments): \(outcome.stderrText)")
        }
    }
}

/// `go` from Debian's golang-go, which scripts/test.sh installs.
private let goTool: String? = ["/usr/bin/go", "/usr/lib/go/bin/go"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite(.enabled(if: goTool != nil, "go is not installed (scripts/test.sh installs golang-go)"))
struct PprofTests {
    private func top(_ profile: String, index: String) throws -> [String] {
        let home = try scratchDirectory()
        let outcome = try launch(
            try #require(goTool), ["tool", "pprof", "-top", "-sample_index=\(index)", profile],
            environment: [
                "HOME": home, "GOCACHE": home + "/cache", "GOPATH": home + "/go", "GOTOOLCHAIN": "local", "PPROF_TMPDIR": home,
            ])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        // Rows after the header: flat flat% sum% cum cum% name
        let lines = outcome.stdoutText.split(separator: "\n").map(String.init)
        guard let header = lines.firstIndex(where: { $0.contains("flat%") }) else { return [] }
        return lines[(header + 1)...].map {
            $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).joined(separator: " ")
        }
    }

    @Test func goToolPprofListsTheLeakingFunctionFirst() throws {
        let session = try #require(leakySession)
        let profile = try scratchDirectory() + "/leaky.pb.gz"
        let outcome = try launch(Built.memdrift, ["pprof", session, "-o", profile])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: profile))
        #expect(bytes.prefix(2) == Data([0x1F, 0x8B]))  // gzip
        #expect(try top(profile, index: "inuse_space").first == "remember_error")
        let allocs = try top(profile, index: "alloc_space")
        #expect(allocs.prefix(2).contains("build_response"))  // 2 KiB per request: the most bytes allocated
    }

    @Test func aBaseMakesAGrowthProfile() throws {
        let session = try #require(leakySession)
        let series = try #require(try FileManager.default.contentsOfDirectory(atPath: session).first { $0.hasPrefix("pid-") })
        let snaps = try FileManager.default.contentsOfDirectory(atPath: "\(session)/\(series)").filter { $0.hasSuffix(".mds") }
            .sorted()
        let profile = try scratchDirectory() + "/growth.pb.gz"
        let outcome = try launch(
            Built.memdrift,
            [
                "pprof", "\(session)/\(series)/\(try #require(snaps.last))", "--base", "\(session)/\(series)/\(snaps[1])", "-o",
                profile,
            ])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        #expect(try top(profile, index: "inuse_space").first == "remember_error")
    }
}

/// Chromium from Debian, which scripts/test.sh installs.
private let chromium: String? = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

@Suite(.enabled(if: chromium != nil, "chromium is not installed (scripts/test.sh installs it)"))
struct HTMLReportTests {
    @Test func theReportRendersInHeadlessChromiumWithChartAndFlameGraph() throws {
        let session = try #require(leakySession)
        let html = try scratchDirectory() + "/report.html"
        let outcome = try launch(Built.memdrift, ["report", session, "--html", html])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let text = try String(contentsOfFile: html, encoding: .utf8)
        #expect(text.contains("remember_error"))
        #expect(!text.contains("http://") && !text.contains("https://"))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../scripts/check-html.sh"
        ).standardized.path
        let check = try launch("/bin/bash", [script, html], timeout: 300)
        #expect(check.status == 0, "\(check.stdoutText)\(check.stderrText)")
        #expect(check.stdoutText.contains("1 chart(s), 1 flame graph(s)"))
    }
}
