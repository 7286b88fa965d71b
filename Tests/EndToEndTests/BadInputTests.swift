import Foundation
import MemdriftCore
import Testing

/// Every subcommand given a missing, empty, truncated, random or wrong-version file: one line on
/// stderr and exit code 2, whether the file is named directly or sits inside a session directory.
@Suite(.serialized) struct BadInputTests {
    static let kinds = ["missing", "empty", "truncated", "random", "wrong-version"]

    @Test(arguments: kinds)
    func everySubcommandRejectsABadFileWithOneLine(kind: String) throws {
        let dir = try scratchDirectory()
        let file = try Self.badSnapshot(kind, in: dir)
        let good = try Self.goodSnapshot(in: dir)
        let session = dir + "/session"
        try FileManager.default.createDirectory(atPath: session + "/pid-1", withIntermediateDirectories: true)
        if kind != "missing" { try FileManager.default.copyItem(atPath: file, toPath: session + "/pid-1/snap-000001.mds") }
        let tracker = try Self.badTracker(kind, in: dir)

        var invocations: [[String]] = []
        for target in [file, session] {
            invocations += [
                ["report", target], ["report", target, "--json"], ["gate", target], ["folded", target],
                ["pprof", target, "-o", dir + "/out.pb.gz"],
            ]
        }
        invocations += [
            ["diff", file, good], ["diff", good, file], ["folded", good, "--from", file],
            ["pprof", good, "--base", file, "-o", dir + "/out.pb.gz"],
            ["snapshot", file], ["run", "-q", "-o", dir + "/run", "--tracker", tracker, "--", "/bin/echo", "hi"],
        ]
        for arguments in invocations {
            let outcome = try launch(Built.memdrift, arguments)
            #expect(outcome.status == 2, "\(arguments)")
            let lines = outcome.stderrText.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            #expect(lines.count == 1 && lines.first?.hasPrefix("memdrift: ") == true, "\(arguments): \(outcome.stderrText)")
            #expect(outcome.stdout.isEmpty, "\(arguments)")
        }
    }

    /// A real snapshot, written by the tracker into `dir`.
    static func goodSnapshot(in dir: String) throws -> String {
        let session = dir + "/good-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: session, withIntermediateDirectories: false)
        let outcome = try launch(
            Built.path("fault-die"), ["exit", "0"], environment: ["LD_PRELOAD": Built.tracker, "MEMDRIFT_OUTPUT": session])
        try #require(outcome.status == 0)
        let series = try #require(try Session.open(session).series.first)
        return try #require(series.snapshotPaths.last)
    }

    /// A snapshot file that is `kind`-broken (not created for "missing").
    static func badSnapshot(_ kind: String, in dir: String) throws -> String {
        let path = dir + "/\(kind).mds"
        let good = try Data(contentsOf: URL(fileURLWithPath: try goodSnapshot(in: dir)))
        var bytes: Data
        switch kind {
        case "missing": return path
        case "empty": bytes = Data()
        case "truncated": bytes = good.prefix(good.count / 2)
        case "random":
            var generator = SplitMix64(seed: 7)
            bytes = Data((0..<3000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        default:
            bytes = good
            bytes[bytes.startIndex + 8] = 99  // the format version, little-endian u32 after the magic
        }
        try bytes.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A file given to `run --tracker` that cannot be a tracker library.
    static func badTracker(_ kind: String, in dir: String) throws -> String {
        let path = dir + "/\(kind)-tracker.so"
        let real = try Data(contentsOf: URL(fileURLWithPath: Built.tracker))
        switch kind {
        case "missing": return path
        case "empty": try Data().write(to: URL(fileURLWithPath: path))
        case "truncated": try real.prefix(100).write(to: URL(fileURLWithPath: path))
        case "random": return try badSnapshot("random", in: dir)
        default: try FileManager.default.copyItem(atPath: Built.path("fault-die"), toPath: path)  // an executable, not a library
        }
        return path
    }
}
