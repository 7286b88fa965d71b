import Foundation
import Testing

@testable import MemdriftSymbolization

/// Compares symbolization of a fixed set of fixture addresses with a committed golden file.
///
/// Set MEMDRIFT_RECORD_GOLDEN=1 to rewrite the golden file after an intended change.
@Suite("Golden")
struct GoldenTests {
    static let goldenFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Golden/c-fixture.txt")

    /// One line per frame; basenames and source positions only, so paths and addresses chosen by the compiler don't matter.
    static func render(_ label: String, _ frames: [SymbolizedFrame]) -> [String] {
        frames.map { frame in
            var line = "\(label): \(frame.function ?? "?")"
            if let file = lastPathComponent(frame.file) {
                line += " at \(file):\(frame.line.map(String.init) ?? "?")"
            }
            if frame.isInlined { line += " [inlined]" }
            if let note = frame.note { line += " (\(note))" }
            line += " in \(frame.module)"
            return line
        }
    }

    @Test("C fixture at -O0 and -O2 matches the golden file")
    func cFixture() throws {
        let directory = try ScratchDirectory("golden")
        var lines: [String] = []
        for optimization in ["-O0", "-O2"] {
            let fixture = try CFixture.build(in: directory, name: "fixture", flags: [optimization])
            let symbolizer = Symbolizer(debugDirectories: [])
            lines.append("# \(optimization)")
            for function in ["report", "direct_caller", "outer_with_inline", "leaky_allocation", "main"] {
                let address = try #require(fixture.symbols[function])
                let frames = symbolizer.symbolize(
                    modulePath: fixture.binary, buildID: [], address: address, isReturnAddress: false)
                lines += Self.render("start of \(function)", frames)
            }
            for tag in fixture.returnAddresses.keys.sorted() {
                let address = try #require(fixture.returnAddresses[tag])
                lines += Self.render(
                    "return address \(tag)", symbolizer.symbolize(modulePath: fixture.binary, buildID: [], address: address))
            }
            lines += Self.render(
                "missing module", symbolizer.symbolize(modulePath: directory.file("gone"), buildID: [], address: 1))
        }
        let actual = lines.joined(separator: "\n") + "\n"
        if ProcessInfo.processInfo.environment["MEMDRIFT_RECORD_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(
                at: Self.goldenFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            try actual.write(to: Self.goldenFile, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: Self.goldenFile, encoding: .utf8)
        #expect(actual == expected, "golden mismatch; rerun with MEMDRIFT_RECORD_GOLDEN=1 if the change is intended")
    }
}
