import Foundation
import Testing

/// A short recording of the leaky example shared by the export tests.
private let leakySession: String? = try? record([Built.path("leaky-server"), "0"], flags: ["-q", "--interval", "250ms", "--duration", "3s"]).1

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
        for (arguments, regex) in [(["--metric", "live", "--lines"], single), (["--metric", "allocs"], single), (["--diff"], double), (["--metric", "alloc-bytes", "--full-stacks"], single)] {
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
            let snaps = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/\(series)").filter { $0.hasSuffix(".mds") }.sorted()
            return "\(dir)/\(series)/\(try #require(snaps.last))"
        }
        let outcome = try launch(Built.memdrift, ["folded", try last(session), "--from", try last(other), "--diff"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let leak = try #require(parseFolded(outcome.stdoutText, values: 2).first { $0.frames.last == "remember_error" })
        #expect(leak.values[0] > 0 && leak.values[1] > 0)
    }

    @Test func badArgumentsAreOneLineAndExitTwo() throws {
        let session = try #require(leakySession)
        for arguments in [["folded", session, "--metric", "weight"], ["folded", session, "--from", "999"], ["folded", "/nonexistent"]] {
            let outcome = try launch(Built.memdrift, arguments)
            #expect(outcome.status == 2, "\(arguments)")
            #expect(outcome.stderrText.split(separator: "\n").count == 1, "\(arguments): \(outcome.stderrText)")
        }
    }
}
