import Foundation
import MemdriftCore
import MemdriftRecording
import MemdriftSymbolization
import Testing

/// The top growing call site of a recorded example, symbolized.
private func topGrower(_ command: [String], seconds: String = "3s") throws -> (
    names: [SymbolizedFrame], summary: String, session: String, full: [SymbolizedFrame]
) {
    let (outcome, session) = try record(command, flags: ["--interval", "300ms", "--duration", seconds])
    #expect(outcome.status == 0)
    let top = try topGrower(in: session)
    return (
        StackSymbolizer().frames(of: top.site), outcome.stderrText, session,
        StackSymbolizer(fullStacks: true).frames(of: top.site)
    )
}

/// The first frame that is not inlined into another.
private func firstCallFrame(_ frames: [SymbolizedFrame]) -> SymbolizedFrame? { frames.first { !$0.isInlined } }

@Suite(.serialized) struct SymbolizationTests {
    @Test func cLeakIsNamedWithFileAndLine() throws {
        let (frames, summary, _, _) = try topGrower([Built.path("leaky-server"), "0"])
        let leaf = try #require(frames.first)
        #expect(leaf.function == "remember_error")
        #expect(leaf.file?.hasSuffix("Examples/leaky-server/main.c") == true)
        #expect(leaf.line != nil)
        #expect(frames.dropFirst().first?.function == "handle_request")
        #expect(summary.contains("remember_error (main.c:"))
    }

    @Test func cxxLeakReadsLikeNamespaceClassMethod() throws {
        let (frames, summary, _, full) = try topGrower([Built.path("leaky-cpp"), "0"])
        #expect(full.first?.function?.hasPrefix("operator new") == true)  // --full-stacks keeps it
        let leaf = try #require(frames.first)
        #expect(leaf.function == "inventory::Catalog::addItem(int)")
        #expect(leaf.file?.hasSuffix("main.cpp") == true && leaf.line != nil)
        #expect(!summary.contains(" _Z"))
        #expect(!summary.contains("operator new"))
    }

    @Test func swiftLeakReadsLikeModuleTypeMethod() throws {
        let (frames, summary, _, _) = try topGrower([Built.path("leaky-swift"), "0"])
        let call = try #require(firstCallFrame(frames))
        #expect(call.function == "leaky_swift.SessionStore.remember(id:)")
        #expect(call.file?.hasSuffix("main.swift") == true && call.line != nil)
        #expect(!summary.contains("$s"))
        #expect(!summary.contains("swift_allocObject"))
    }

    @Test func leakInADlopenedLibraryIsNamedAfterItWasUnloaded() throws {
        let (frames, _, session, _) = try topGrower([Built.path("plugin-host"), "1.5"])
        let leaf = try #require(frames.first)
        #expect(leaf.function == "plugin_remember_request")
        #expect(leaf.module == "libleaky-plugin.so")
        #expect(leaf.file?.hasSuffix("plugin.c") == true)
        let last = try #require(try Session.open(session).series.first?.loadSnapshots().last)
        #expect(last.modules.first { $0.name == "libleaky-plugin.so" }?.isLoaded == false)  // dlclosed before exit
    }

    @Test func strippedLibraryStillGetsDynsymNames() throws {
        let dir = try scratchDirectory()
        let plugin = "\(dir)/libleaky-plugin.so"
        try FileManager.default.copyItem(atPath: Built.path("libleaky-plugin.so"), toPath: plugin)
        #expect(try launch("/usr/bin/strip", ["--strip-all", plugin]).status == 0)
        let (frames, _, _, _) = try topGrower([Built.path("plugin-host"), "0", plugin])
        let leaf = try #require(frames.first)
        #expect(leaf.function == "plugin_remember_request")
        #expect(leaf.file == nil)
    }

    @Test func deletedOrReplacedBinariesAreReportedNotMisnamed() throws {
        let dir = try scratchDirectory()
        let program = "\(dir)/leaky-server"
        try FileManager.default.copyItem(atPath: Built.path("leaky-server"), toPath: program)
        let (_, _, session, _) = try topGrower([program, "0"], seconds: "2s")

        try FileManager.default.removeItem(atPath: program)
        let deleted = try launch(Built.memdrift, ["report", session]).stdoutText
        #expect(deleted.contains("leaky-server+0x"))
        #expect(deleted.contains("(module missing)"))
        #expect(!deleted.contains("remember_error"))

        try FileManager.default.copyItem(atPath: Built.path("steady"), toPath: program)
        let replaced = try launch(Built.memdrift, ["report", session]).stdoutText
        #expect(replaced.contains("build-id mismatch"))
        #expect(!replaced.contains("remember_error") && !replaced.contains("make_buffer"))
    }

    @Test func symbolizedTopStacksMatchTheGoldenFile() throws {
        var text = ""
        for example in ["leaky-server", "leaky-cpp", "plugin-host"] {
            let (frames, _, _, _) = try topGrower([Built.path(example), "0"], seconds: "2s")
            text += "\(example):\n"
            for f in frames.prefix(3) {
                let file = f.file.map { ($0 as NSString).lastPathComponent } ?? "?"
                text +=
                    "  \(f.function ?? "?") \(file):\(f.line.map(String.init) ?? "?") [\(f.module)]\(f.isInlined ? " inlined" : "")\n"
            }
        }
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/top-stacks.txt")
        if ProcessInfo.processInfo.environment["MEMDRIFT_RECORD_GOLDEN"] == "1" {
            try Data(text.utf8).write(to: golden)
        }
        #expect(text == (try String(contentsOf: golden, encoding: .utf8)))
    }
}
