import Foundation
import MemdriftCore
import Testing

@Suite struct SamplingTests {
    /// The final snapshot of the only process of a session.
    private func lastSnapshot(_ session: String) throws -> Snapshot {
        let series = try #require(try Session.open(session).series.first)
        return try #require(try series.loadSnapshots().last)
    }

    @Test func estimatesAreCloseToTheExactCountsAndMarkedAsSuch() throws {
        let program = Built.path("alloc-storm")
        let exact = try lastSnapshot(try record([program, "1000000", "1"]).1)
        let sampled = try lastSnapshot(try record([program, "1000000", "1"], flags: ["-q", "--sample-rate", "8KiB"]).1)
        #expect(!exact.header.isSampled)
        #expect(sampled.header.isSampled && sampled.header.sampleRate == 8192)
        let bytes = Double(exact.figures[.allocatedBytesTotal]), estimate = Double(sampled.figures[.allocatedBytesTotal])
        #expect(abs(estimate - bytes) / bytes < 0.05, "estimate \(estimate) vs \(bytes)")
        let count = Double(exact.figures[.allocatedCountTotal]), estimatedCount = Double(sampled.figures[.allocatedCountTotal])
        #expect(abs(estimatedCount - count) / count < 0.10, "estimate \(estimatedCount) vs \(count)")
        // Only the sampled blocks ever reach the live table.
        #expect(sampled.figures[.stackCount] <= exact.figures[.stackCount])
    }

    @Test func theVerdictStillFindsTheLeakingChildWhenSampling() throws {
        let (outcome, session) = try record(
            [Built.path("leaky-child"), "20"], flags: ["-q", "--interval", "1s", "--sample-rate", "64KiB"])
        #expect(outcome.status == 0)
        let report = try launch(Built.memdrift, ["report", "--json", session])
        let doc = try #require(try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any])
        #expect(doc["verdict"] as? String == "leak")
        let processes = try #require(doc["processes"] as? [[String: Any]])
        #expect(processes.allSatisfy { $0["sampled"] as? Bool == true })
        let leaking = try #require(processes.first { $0["verdict"] as? String == "leak" })
        let frames = ((leaking["suspects"] as? [[String: Any]])?.first?["frames"] as? [[String: Any]]) ?? []
        #expect(frames.first?["function"] as? String == "worker_cache_entry")
        let text = try launch(Built.memdrift, ["report", session]).stdoutText
        #expect(text.contains("sampled: figures are estimates"))
    }

    @Test func badSampleRatesAreRejected() throws {
        let outcome = try launch(Built.memdrift, ["run", "--sample-rate", "lots", "--", "/bin/true"])
        #expect(outcome.status == 2)
        #expect(outcome.stderrText.split(separator: "\n").count == 1)
    }
}
