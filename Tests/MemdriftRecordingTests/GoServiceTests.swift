import Foundation
import MemdriftCore
import MemdriftPprof
import MemdriftSymbolization
import MemdriftTestSupport
import Testing

@testable import MemdriftRecording

extension Tag {
    /// Builds and runs real programs for seconds; a quick loop skips them with `swift test --skip EndToEnd`.
    @Tag static var slow: Self
}

/// Go's own heap profiler, end to end: a real Go service's /debug/pprof/heap polled by
/// GoProfileRecorder, read back by GoHeapSamples, and folded like reports fold it.
@Suite(
    "Go service end to end (EndToEnd)", .tags(.slow), .serialized,
    .enabled(if: goCommand != nil, "go is not installed (scripts/test.sh installs golang-go)"))
struct GoServiceEndToEndTests {
    private let symbolizer = StackSymbolizer()

    @Test("the leaking function's live bytes grow, and it is the first frame of the top growing site")
    func leak() throws {
        let samples = try record(steady: false)
        // The records rememberSession makes (not the map's buckets, which are freed as the map grows).
        let main = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Examples/go-service/main.go").standardizedFileURL.path
        let lines = try String(contentsOfFile: main, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let makeLine = try #require(lines.firstIndex { $0.contains("record := make(") }) + 1
        let leaked = samples.map { sample in
            sample.sites.filter {
                let frame = firstFrame(of: $0.site)
                return frame?.function == "main.rememberSession" && frame?.line == makeLine
            }.reduce(0) { $0 + $1.counters.liveBytes }
        }
        // Go never forgets a sampled allocation that is still live, so a leak's estimate never falls.
        #expect(zip(leaked, leaked.dropFirst()).allSatisfy { $0 <= $1 }, "\(leaked)")
        #expect((leaked.last ?? 0) - (leaked.first ?? 0) >= 2 << 20, "\(leaked)")
        #expect(zip(samples, samples.dropFirst()).allSatisfy { $0.wallClockNanos < $1.wallClockNanos })

        let (site, growth) = try #require(topGrowingSite(samples))
        let first = try #require(firstFrame(of: site))
        #expect(first.function == "main.rememberSession")
        #expect(first.file?.hasSuffix("Examples/go-service/main.go") == true, "\(first.file ?? "no file")")
        #expect((first.line ?? 0) > 0)
        #expect(growth >= 2 << 20)
    }

    @Test("with -steady nothing is remembered and no site grows like a leak")
    func steady() throws {
        let samples = try record(steady: true)
        #expect(samples.allSatisfy { $0.sites.allSatisfy { firstFrame(of: $0.site)?.function != "main.rememberSession" } })
        let growth = topGrowingSite(samples)?.growth ?? 0
        #expect(growth < 2 << 20, "the top site grew by \(growth) bytes")
    }

    /// Starts the service, polls it six times about 0.6 s apart, stops it and reads the session back.
    private func record(steady: Bool) throws -> [GoHeapSample] {
        let binary = try goService.get()
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stdout = directory + "/stdout"
        _ = FileManager.default.createFile(atPath: stdout, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-duration", "60s"] + (steady ? ["-steady"] : [])
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
        try process.runWithSignalsUnblocked()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let port = try waitForPort(stdout)

        let session = directory + "/session"
        try FileManager.default.createDirectory(atPath: session, withIntermediateDirectories: false)
        let recorder = try GoProfileRecorder(
            url: "http://127.0.0.1:\(port)/debug/pprof/heap", sessionPath: session, pid: process.processIdentifier,
            interval: 1)
        for _ in 0..<6 {
            usleep(600_000)
            let warning = recorder.poll()
            #expect(warning == nil, "\(warning ?? "")")
        }
        #expect(recorder.profilesWritten == 6)
        let (samples, warnings) = GoHeapSamples.read(directory: recorder.directory)
        #expect(warnings.isEmpty)
        #expect(samples.count == 6)
        return samples
    }

    /// The port the service prints as its first line.
    private func waitForPort(_ path: String) throws -> UInt16 {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first, text.contains("\n") {
                return try #require(UInt16(line), "go-service printed \(line)")
            }
            usleep(20_000)
        }
        throw GoServiceError("go-service printed no port within 20 s")
    }

    /// The first frame a report shows: StackSymbolizer folds Go's allocator and runtime frames away.
    private func firstFrame(of site: CallSite) -> SymbolizedFrame? {
        symbolizer.frames(of: site).first
    }

    /// The site whose live bytes grew most from the first sample to the last.
    private func topGrowingSite(_ samples: [GoHeapSample]) -> (site: CallSite, growth: Int64)? {
        guard let first = samples.first, let last = samples.last else { return nil }
        let before = Dictionary(first.sites.map { ($0.site, $0.counters.liveBytes) }, uniquingKeysWith: +)
        return last.sites.map { (site: $0.site, growth: $0.counters.liveBytes - (before[$0.site] ?? 0)) }
            .max { $0.growth < $1.growth }
    }
}
