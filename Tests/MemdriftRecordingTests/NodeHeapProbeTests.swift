import Foundation
import Testing

@testable import MemdriftRecording

@Suite struct NodeHeapProbeTests {
    @Test func installsAPrivateProbeOnceAndAppendsItToNodeOptions() throws {
        let session = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: session) }
        let changes = try NodeHeapProbe.install(sessionPath: session, environment: ["NODE_OPTIONS": "--max-old-space-size=512"])
        let probe = "\(session)/.probes/memdrift-node.js"
        #expect(changes == ["NODE_OPTIONS": "--max-old-space-size=512 --require \"\(probe)\""])
        #expect(try String(contentsOfFile: probe, encoding: .utf8) == NodeHeapProbe.source)
        #expect(try FileManager.default.attributesOfItem(atPath: probe)[.posixPermissions] as? Int == 0o600)
        #expect(try FileManager.default.attributesOfItem(atPath: "\(session)/.probes")[.posixPermissions] as? Int == 0o700)
        #expect(
            NodeHeapProbe.source.contains(
                "const samplingInterval = count(process.env.MEMDRIFT_JS_SAMPLING_INTERVAL, 0) || 65536;"))
        // Exclusive: a second install (or a planted file) is an error, never an overwrite.
        #expect(throws: RecordingError.self) { try NodeHeapProbe.install(sessionPath: session, environment: [:]) }
    }

    @Test func neverWritesThroughASymlink() throws {
        let session = try makeTemporaryDirectory(), elsewhere = try makeTemporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: session)
            try? FileManager.default.removeItem(atPath: elsewhere)
        }
        try FileManager.default.createSymbolicLink(atPath: "\(session)/.probes", withDestinationPath: elsewhere)
        #expect(throws: RecordingError.self) { try NodeHeapProbe.install(sessionPath: session, environment: [:]) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)

        let other = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: other) }
        try FileManager.default.createDirectory(atPath: "\(other)/.probes", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: "\(other)/.probes/memdrift-node.js", withDestinationPath: "\(elsewhere)/planted")
        #expect(throws: RecordingError.self) { try NodeHeapProbe.install(sessionPath: other, environment: [:]) }
        #expect(!FileManager.default.fileExists(atPath: "\(elsewhere)/planted"))
    }

    @Test(
        arguments: [
            ("/s/p.js", nil, #"--require "/s/p.js""#),
            ("/s/p.js", "", #"--require "/s/p.js""#),
            ("/s/p.js", "  ", #"--require "/s/p.js""#),
            ("/my session/p.js", "--trace-warnings", #"--trace-warnings --require "/my session/p.js""#),
            (#"/a "b" \c/p.js"#, nil, #"--require "/a \"b\" \\c/p.js""#),
        ] as [(String, String?, String)])
    func nodeOptionsQuoteThePathAsNodeSplitsThem(path: String, existing: String?, expected: String) {
        #expect(NodeHeapProbe.nodeOptions(requiring: path, after: existing) == expected)
    }
}
