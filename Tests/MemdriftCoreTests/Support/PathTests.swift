import Foundation
import MemdriftCore
import Testing

@Suite struct PathTests {
    @Test func joinsWithOneSlash() {
        #expect(Path.join("/a", "b") == "/a/b")
        #expect(Path.join("/a/", "b") == "/a/b")
        #expect(Path.join("", "b") == "b")
        #expect(Path.join("/a", "") == "/a")
        #expect(Path.join("session", "pid-7") == "session/pid-7")
    }

    @Test func splitsOffTheLastComponent() {
        let cases: [(String, last: String, parent: String)] = [
            ("/usr/bin/server", "server", "/usr/bin"), ("/usr/bin/server/", "server", "/usr/bin"),
            ("//usr//bin//", "bin", "/usr"), ("/a", "a", "/"), ("/", "/", "/"), ("a/b", "b", "a"), ("a", "a", ""),
            ("a/", "a", ""), ("", "", ""), ("x/😀", "😀", "x"),
        ]
        for (path, last, parent) in cases {
            #expect(Path.lastComponent(of: path) == last, "\(path)")
            #expect(Path.deletingLastComponent(of: path) == parent, "\(path)")
        }
    }

    @Test func canonicalPathsResolveLinksOfExistingFilesAndDotsOfOthers() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let real = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        try FileManager.default.createDirectory(atPath: "\(root)/lib", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(root)/bin", withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: "\(root)/lib/libmemdrift-preload.so"))
        try FileManager.default.createSymbolicLink(
            atPath: "\(root)/lib/libmemdrift.so", withDestinationPath: "libmemdrift-preload.so")
        #expect(Path.canonical("\(root)/bin/../lib/libmemdrift.so") == "\(real)/lib/libmemdrift-preload.so")
        #expect(Path.canonical("\(root)//bin/./../lib/none.so") == "\(root)/lib/none.so")
        #expect(Path.canonical("/nowhere/../x/./y/") == "/x/y")
        #expect(Path.canonical("/../x") == "/x")
        #expect(Path.canonical("nowhere/../../x") == "../x")
        #expect(Path.canonical("nowhere/..") == ".")
    }
}
