import Foundation
import MemdriftPprof
import Testing

/// The `go` command, from PATH or where Debian's golang-go puts it; nil when go is not installed.
let goCommand: String? = {
    let fileManager = FileManager.default
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let candidates = path.split(separator: ":").map { "\($0)/go" } + ["/usr/lib/go/bin/go"]
    return candidates.first { fileManager.isExecutableFile(atPath: $0) }
}()

/// Checks the encoder against the real reader: `go tool pprof` must accept our bytes and
/// show the fixture's numbers, names and inlined frames.
@Suite(
    "go tool pprof reads our profiles",
    .enabled(if: goCommand != nil, "go is not installed (apt-get install golang-go), so go tool pprof cannot be run"))
struct PprofGoToolTests {
    @Test("-top on inuse_space puts the dominating function first")
    func topInuseSpace() throws {
        let rows = try topRows(pprof(["-top", "-unit=B", "-sample_index=inuse_space"]))
        #expect(rows.first?.name == "cache_insert")
        #expect(rows.first?.flat == "7340032B")
        #expect(rows.first { $0.name == "handle_request" }?.cum == "10485760B")
        #expect(rows.first { $0.name == "xstrdup (inline)" }?.flat == "1048576B")
    }

    @Test("-top on alloc_space ranks by bytes allocated instead")
    func topAllocSpace() throws {
        let output = try pprof(["-top", "-unit=B", "-sample_index=alloc_space"])
        #expect(output.contains("Type: alloc_space"))
        let rows = try topRows(output)
        #expect(rows.map(\.name) == ["xstrdup (inline)", "cache_insert", "handle_request"])
        #expect(rows.map(\.flat) == ["25165824B", "8388608B", "2097152B"])
        #expect(rows.last?.cum == "35651584B")
    }

    @Test("-traces -lines shows inlined frames with file:line, defaulting to inuse_space")
    func traces() throws {
        let output = try pprof(["-traces", "-lines"])
        #expect(output.contains("Type: inuse_space"))
        #expect(output.contains("Build ID: \(PprofFixture.mainBuildID)"))
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let inlined = try #require(lines.firstIndex { $0.hasSuffix("xstrdup src/util.h:17 (inline)") })
        #expect(lines[inlined].hasPrefix("1MB"))
        #expect(lines.indices.contains(inlined + 1) && lines[inlined + 1] == "handle_request src/server.c:88")
        #expect(lines.contains { $0.hasPrefix("7MB") && $0.hasSuffix("cache_insert src/plugin/cache.c:42") })
        #expect(lines.contains("thread:  worker-1"))
    }

    @Test("-raw shows every value, both mappings with build IDs, and the inline chain")
    func raw() throws {
        let output = try pprof(["-raw"])
        let lines = output.split(separator: "\n").map {
            $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        }
        #expect(lines.contains("alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes[dflt]"))
        #expect(lines.contains { $0.hasPrefix("900 8388608 800 7340032:") })
        #expect(lines.contains { $0.hasPrefix("12000 25165824 500 1048576:") })
        #expect(lines.contains { $0.hasPrefix("40 2097152 40 2097152:") })
        #expect(lines.contains("PeriodType: space bytes"))
        #expect(lines.contains("bytes:[8192 bytes]"))
        let inlined = try #require(lines.firstIndex { $0.hasSuffix("M=1 xstrdup src/util.h:17 s=15()") })
        #expect(lines.indices.contains(inlined + 1) && lines[inlined + 1] == "handle_request src/server.c:88 s=80()")
        #expect(lines.contains { $0.hasSuffix("M=2 cache_insert src/plugin/cache.c:42 s=40()") })
        #expect(lines.contains("1: 0x400000/0x500000/0x0 /usr/bin/leaky-server \(PprofFixture.mainBuildID) [FN][FL][LN][IN]"))
        #expect(
            lines.contains(
                "2: 0x7f0000000000/0x7f0000100000/0x1000 /opt/leaky/libleaky-plugin.so \(PprofFixture.pluginBuildID) [FN][FL][LN][IN]"
            ))
    }

    /// One row of `-top`: flat and cum as pprof prints them, and the node's name.
    struct TopRow {
        let flat: String
        let cum: String
        let name: String
    }

    /// The rows under the `flat flat% sum% cum cum%` heading.
    private func topRows(_ output: String) throws -> [TopRow] {
        let lines = output.split(separator: "\n")
        let heading = try #require(lines.firstIndex { $0.split(separator: " ").first == "flat" })
        return lines[(heading + 1)...].compactMap { line in
            let columns = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard columns.count == 6 else { return nil }
            return TopRow(
                flat: String(columns[0]), cum: String(columns[3]), name: columns[5].trimmingCharacters(in: .whitespaces))
        }
    }

    @Test("pprof's own re-encoding of the fixture (-proto) decodes to the same profile")
    func decodesGoEncoding() throws {
        let decoded = try PprofDecoder.decode(Array(pprofOutput(["-proto"])))
        #expect(decoded.sampleTypes == PprofFixture.profile.sampleTypes)
        #expect(decoded.timeNanos == PprofFixture.profile.timeNanos)
        #expect(decoded.durationNanos == PprofFixture.profile.durationNanos)
        #expect(decoded.period == PprofFixture.profile.period)
        #expect(Set(decoded.samples.map(\.values)) == Set(PprofFixture.profile.samples.map(\.values)))
        #expect(decoded.samples.flatMap(\.labels.values) == ["worker-1"])
        // pprof keeps every function and the inline chain of each location, whatever IDs it gives them.
        let names = Dictionary(uniqueKeysWithValues: decoded.functions.map { ($0.id, $0.name) })
        let chains = decoded.locations.map { $0.lines.map { "\(names[$0.functionID] ?? "?"):\($0.line)" } }
        #expect(Set(chains) == [["cache_insert:42"], ["xstrdup:17", "handle_request:88"], ["handle_request:95"]])
        #expect(decoded.problems().isEmpty)
    }

    /// Writes the fixture gzipped and runs `go tool pprof ARGS FILE`, returning its stdout.
    private func pprof(_ arguments: [String]) throws -> String {
        String(decoding: try pprofOutput(arguments), as: UTF8.self)
    }

    /// Writes the fixture gzipped and runs `go tool pprof ARGS FILE`, returning its stdout's bytes.
    private func pprofOutput(_ arguments: [String]) throws -> Data {
        let go = try #require(goCommand)
        let fileManager = FileManager.default
        let directory = fileManager.temporaryDirectory.appendingPathComponent("memdrift-pprof-\(UUID().uuidString)")
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? fileManager.removeItem(at: directory) }
        let profile = directory.appendingPathComponent("heap.pb.gz")
        try Data(PprofEncoder.encode(PprofFixture.profile)).write(to: profile)

        let stdoutURL = directory.appendingPathComponent("stdout"), stderrURL = directory.appendingPathComponent("stderr")
        try Data().write(to: stdoutURL)
        try Data().write(to: stderrURL)
        let stdout = try FileHandle(forWritingTo: stdoutURL), stderr = try FileHandle(forWritingTo: stderrURL)
        defer {
            try? stdout.close()
            try? stderr.close()
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: go)
        process.arguments = ["tool", "pprof"] + arguments + [profile.path]
        process.currentDirectoryURL = directory
        // go wants a writable HOME and cache; GOTOOLCHAIN=local stops newer go releases from
        // fetching a toolchain, and PPROF_* keep pprof away from the user's own files.
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in [
            "HOME": directory.path, "GOCACHE": directory.appendingPathComponent("gocache").path,
            "GOPATH": directory.appendingPathComponent("gopath").path, "GOTOOLCHAIN": "local", "GOFLAGS": "",
            "PPROF_TMPDIR": directory.path, "PPROF_BINARY_PATH": directory.path,
        ] {
            environment[key] = value
        }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()

        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            Issue.record("go tool pprof \(arguments.joined(separator: " ")) did not finish within 120 s")
        }
        process.waitUntilExit()
        let output = (try? Data(contentsOf: stdoutURL)) ?? Data()
        let errors = String(decoding: (try? Data(contentsOf: stderrURL)) ?? Data(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "go tool pprof failed: \(errors)")
        #expect(!errors.contains("Local symbolization failed"), "pprof tried to symbolize: \(errors)")
        return output
    }
}
