import Foundation
import MemdriftCore
import MemdriftPprof
import Testing

@testable import MemdriftRecording

/// A small heap profile as Go serves it (gzipped), with `main.rememberSession` holding `live` bytes.
func goHeapProfileBytes(live: Int64 = 1 << 20) -> [UInt8] {
    PprofEncoder.encode(
        .heap(
            samples: [.heap(locationIDs: [1, 2], allocObjects: 64, allocBytes: live, inuseObjects: 64, inuseBytes: live)],
            mappings: [],
            locations: [
                .init(id: 1, lines: [.init(functionID: 1, line: 52)]), .init(id: 2, lines: [.init(functionID: 2, line: 9)]),
            ],
            functions: [
                .init(id: 1, name: "main.rememberSession", filename: "/src/main.go"),
                .init(id: 2, name: "main.main", filename: "/src/main.go"),
            ],
            timeNanos: 1_800_000_000_000_000_000, period: 512 * 1024))
}

@Suite("Go heap profile recorder")
struct GoProfileRecorderTests {
    @Test("each poll keeps the served bytes as go-<pid>/heap-<ns>.pb.gz: 0600 in a 0700 directory, no temporaries left")
    func keepsProfiles() throws {
        let served = [goHeapProfileBytes(live: 1 << 20), goHeapProfileBytes(live: 3 << 20)]
        let server = try LoopbackServer { index, _ in LoopbackServer.response("200 OK", body: served[min(index, 1)]) }
        defer { server.stop() }
        let session = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: session) }

        let recorder = try GoProfileRecorder(
            url: "http://127.0.0.1:\(server.port)/debug/pprof/heap", sessionPath: session, pid: 4217, interval: 1)
        #expect(recorder.poll() == nil)
        #expect(recorder.poll() == nil)
        #expect(recorder.profilesWritten == 2 && recorder.failedPolls == 0)

        let directory = session + "/go-4217"
        #expect(recorder.directory == directory)
        #expect(try permissions(directory) == 0o700)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names.count == 2)
        for name in names {
            #expect(GoHeapSamples.monotonicNanos(fromFileName: name) != nil, "\(name)")
            #expect(try permissions(directory + "/" + name) == 0o600)
        }
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: directory + "/" + names[0]))) == served[0])

        let (samples, warnings) = GoHeapSamples.read(directory: directory)
        #expect(warnings.isEmpty)
        #expect(samples.map(\.inuseBytes) == [1 << 20, 3 << 20])
        #expect(samples[0].monotonicNanos < samples[1].monotonicNanos)
        #expect(
            samples[0].sites.first?.site.frames.first
                == .source(SourceFrame(runtime: "go", function: "main.rememberSession", file: "/src/main.go", line: 52)))
    }

    @Test("the profile is asked for after a collection (gc=1) unless the URL sets gc")
    func asksForAFreshProfile() throws {
        let recorder = try GoProfileRecorder(
            url: "http://127.0.0.1:6060/debug/pprof/heap", sessionPath: "/tmp", pid: 1, interval: 10)
        #expect(recorder.fetched.target == "/debug/pprof/heap?gc=1" && recorder.url.target == "/debug/pprof/heap")
        let base = "http://127.0.0.1:6060/debug/pprof/heap"
        #expect(GoProfileRecorder.collectingFirst(base) == base + "?gc=1")
        #expect(GoProfileRecorder.collectingFirst(base + "?debug=0") == base + "?debug=0&gc=1")
        #expect(GoProfileRecorder.collectingFirst(base + "?") == base + "?gc=1")
        #expect(GoProfileRecorder.collectingFirst(base + "?gc=0") == base + "?gc=0")
        #expect(GoProfileRecorder.collectingFirst(base + "?seconds=1&gc=2") == base + "?seconds=1&gc=2")
    }

    @Test("endpoint down: one warning saying connection refused, then silence, and no file")
    func endpointDown() throws {
        let port = try LoopbackServer.closedPort()
        try expectOneWarning(url: "http://127.0.0.1:\(port)/debug/pprof/heap", saying: "connection refused")
    }

    @Test("endpoint answering 404: one warning naming the status, and no file")
    func notFound() throws {
        let server = try LoopbackServer { _, _ in
            LoopbackServer.response("404 Not Found", body: Array("404 page not found\n".utf8))
        }
        defer { server.stop() }
        try expectOneWarning(url: "http://127.0.0.1:\(server.port)/debug/pprof/heap", saying: "HTTP 404 Not Found")
    }

    @Test("endpoint that accepts and never answers: one warning saying it timed out after half the interval")
    func slow() throws {
        let server = try LoopbackServer(respond: nil)
        defer { server.stop() }
        let start = Date()
        try expectOneWarning(url: "http://127.0.0.1:\(server.port)/debug/pprof/heap", saying: "timed out after 0.5s")
        #expect(Date().timeIntervalSince(start) < 3 * 0.5 + 1)
    }

    @Test("a 200 that is not a Go heap profile: one warning, and nothing kept")
    func notPprof() throws {
        let cpu = PprofEncoder.encode(PprofProfile(sampleTypes: [.init(type: "cpu", unit: "nanoseconds")]))
        let server = try LoopbackServer { index, _ in
            LoopbackServer.response("200 OK", body: index % 2 == 0 ? Array("<html>Hello</html>".utf8) : cpu)
        }
        defer { server.stop() }
        let warning = try expectOneWarning(
            url: "http://127.0.0.1:\(server.port)/",
            saying: "does not serve a Go heap profile: not a pprof profile: not gzip data")
        #expect(warning.contains("(starts with \"<html>He\")"))
    }

    @Test("recovery is noted once; a kind already reported stays silent when it comes back")
    func recovery() throws {
        let profile = goHeapProfileBytes()
        let server = try LoopbackServer { index, _ in
            [0, 1, 4].contains(index)
                ? LoopbackServer.response("503 Service Unavailable") : LoopbackServer.response("200 OK", body: profile)
        }
        defer { server.stop() }
        let session = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: session) }
        let recorder = try GoProfileRecorder(url: "http://127.0.0.1:\(server.port)/", sessionPath: session, pid: 9, interval: 2)
        let lines = (0..<7).map { _ in recorder.poll() }
        #expect(lines[0]?.contains("HTTP 503 Service Unavailable") == true)
        #expect(lines[1] == nil)
        #expect(
            lines[2] == "the Go heap profile at http://127.0.0.1:\(server.port)/ is being fetched again (after 2 failed polls)")
        #expect(lines[3...].allSatisfy { $0 == nil })
        #expect(recorder.profilesWritten == 4 && recorder.failedPolls == 3 && recorder.lastFailure == nil)
    }

    @Test("a symlink where go-<pid> belongs is not written through")
    func symlinkedDirectory() throws {
        let server = try LoopbackServer { _, _ in LoopbackServer.response("200 OK", body: goHeapProfileBytes()) }
        defer { server.stop() }
        let session = try makeTemporaryDirectory()
        let elsewhere = try makeTemporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: session)
            try? FileManager.default.removeItem(atPath: elsewhere)
        }
        try FileManager.default.createSymbolicLink(atPath: session + "/go-5", withDestinationPath: elsewhere)
        let recorder = try GoProfileRecorder(url: "http://127.0.0.1:\(server.port)/", sessionPath: session, pid: 5, interval: 1)
        let warning = try #require(recorder.poll())
        #expect(warning.hasPrefix("cannot keep Go heap profiles in \(session)/go-5: it is not a directory"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
    }

    @Test("https, other schemes and a non-positive interval are refused up front; the timeout is min(interval/2, 2s)")
    func configuration() throws {
        let https = try #require(throws: RecordingError.self) {
            try GoProfileRecorder(url: "https://127.0.0.1:6060/debug/pprof/heap", sessionPath: "/tmp", pid: 1, interval: 10)
        }
        #expect(
            https.description.hasPrefix(
                "--pprof-url: cannot fetch https://127.0.0.1:6060/debug/pprof/heap: https is not supported"))
        #expect(throws: RecordingError.self) {
            try GoProfileRecorder(url: "localhost:6060", sessionPath: "/tmp", pid: 1, interval: 10)
        }
        #expect(throws: RecordingError.self) { try GoProfileRecorder(url: "http://h/", sessionPath: "/tmp", pid: 1, interval: 0) }
        #expect(try GoProfileRecorder(url: "http://h/", sessionPath: "/tmp", pid: 1, interval: 30).timeout == 2)
        #expect(try GoProfileRecorder(url: "http://h/", sessionPath: "/tmp", pid: 1, interval: 1).timeout == 0.5)
    }

    /// Polls three times: the first returns a warning containing `text` and naming the URL, the others nothing; no file appears.
    @discardableResult
    private func expectOneWarning(url: String, saying text: String) throws -> String {
        let session = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: session) }
        let recorder = try GoProfileRecorder(url: url, sessionPath: session, pid: 31, interval: 1)
        let lines = (0..<3).map { _ in recorder.poll() }
        let warning = try #require(lines[0])
        #expect(warning.contains(text), "\(warning)")
        #expect(warning.contains(url) || warning.contains(url + "/"), "\(warning)")
        #expect(!warning.contains("\n"))
        #expect(lines[1] == nil && lines[2] == nil)
        #expect(recorder.failedPolls == 3 && recorder.profilesWritten == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: session).isEmpty)
        return warning
    }

    private func permissions(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }
}
