import Foundation
import MemdriftCore
import Testing

/// What a session lets others read or plant, and what it reveals (docs/security.md).
@Suite(.serialized) struct SecurityTests {
    @Test func sessionFilesArePrivate() throws {
        let (outcome, session) = try record([Built.path("fault-fork-storm"), "20"], flags: ["-q", "--interval", "100ms"])
        #expect(outcome.status == 0)
        #expect(try mode(session) == 0o700)
        var files = 0, directories = 0
        let enumerator = FileManager.default.enumerator(atPath: session)
        while let relative = enumerator?.nextObject() as? String {
            let path = session + "/" + relative
            var info = stat()
            try #require(lstat(path, &info) == 0)
            #expect(info.st_uid == geteuid(), "\(relative)")
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                directories += 1
                #expect(info.st_mode & 0o7777 == 0o700, "\(relative)")
            case S_IFREG:
                files += 1
                #expect(info.st_mode & 0o7777 == 0o600, "\(relative)")
            default: Issue.record("\(relative) is neither a file nor a directory")
            }
        }
        #expect(directories >= 11 && files >= 12)  // the parent and 10 exit()ing children; their snapshots and session.json
    }

    @Test func runRefusesAnotherUsersDirectoryAndASymlink() throws {
        let dir = try scratchDirectory()
        let foreign = dir + "/foreign", target = dir + "/target", link = dir + "/link"
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        var cases = [(link, "it exists and is not a directory")]
        if geteuid() == 0 {
            try #require(chown(foreign, 65534, 65534) == 0)
            cases.append((foreign, "it belongs to another user"))
        } else {
            print("SecurityTests: skipping the foreign-directory case of run: chown needs root")
        }
        for (output, reason) in cases {
            let outcome = try launch(Built.memdrift, ["run", "-q", "-o", output, "--", "/bin/true"])
            #expect(outcome.status == 2)
            #expect(outcome.stderrText == "memdrift: cannot use \(output) as the session directory: \(reason)\n")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
    }

    @Test func theTrackerRefusesASymlinkAndAnotherUsersDirectory() throws {
        let dir = try scratchDirectory()
        let foreign = dir + "/foreign", target = dir + "/target", link = dir + "/link"
        try FileManager.default.createDirectory(
            atPath: foreign, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o777])
        try FileManager.default.createDirectory(
            atPath: target, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        var outputs = [link]
        if geteuid() == 0 {
            try #require(chown(foreign, 65534, 65534) == 0)
            outputs.append(foreign)
        } else {
            print("SecurityTests: skipping the tracker's foreign-directory case: chown needs root")
        }
        for output in outputs {
            let outcome = try launch(
                Built.path("fault-die"), ["exit", "0"], environment: ["LD_PRELOAD": Built.tracker, "MEMDRIFT_OUTPUT": output])
            #expect(outcome.status == 0)
            #expect(outcome.stdoutText == "fault-die: exit 0\n")
            #expect(outcome.stderrText.hasPrefix("memdrift: unusable output directory \(output): "), "\(outcome.stderrText)")
            #expect(outcome.stderrText.hasSuffix("; tracking stopped, the program continues untracked\n"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: output).isEmpty)
        }
    }

    @Test func theTrackerStaysOffUnderSecureExecution() throws {
        guard geteuid() == 0 else {
            print("SecurityTests: skipping the secure-execution case: it needs root to install a setuid preload library")
            return
        }
        // In secure mode the loader preloads only libraries without a slash, from system directories,
        // that carry the set-user-ID bit: such a copy of the tracker does get loaded.
        let name = "libmemdrift-securetest-\(getpid()).so"
        let installed = "/usr/lib/x86_64-linux-gnu/" + name
        try FileManager.default.copyItem(atPath: Built.tracker, toPath: installed)
        defer { try? FileManager.default.removeItem(atPath: installed) }
        try #require(chmod(installed, 0o4755) == 0)

        let dir = try scratchDirectory()
        try #require(chmod(dir, 0o755) == 0)
        let program = dir + "/setuid-program", output = dir + "/output", control = dir + "/control"
        try FileManager.default.copyItem(atPath: Built.path("fault-die"), toPath: program)
        try #require(chown(program, 65534, 65534) == 0 && chmod(program, 0o4755) == 0)
        // Owned by the user the program runs as, so only the AT_SECURE check can keep the tracker out.
        try FileManager.default.createDirectory(
            atPath: output, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try #require(chown(output, 65534, 65534) == 0)
        let secure = try launch(program, ["tracker"], environment: ["LD_PRELOAD": name, "MEMDRIFT_OUTPUT": output])
        #expect(secure.stdoutText == "fault-die: tracker loaded=1 active=0\n")
        #expect(secure.stderr.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: output).isEmpty)

        // The control: the same library and program without the setuid bit track as usual.
        try FileManager.default.createDirectory(
            atPath: control, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try #require(chmod(program, 0o755) == 0 && chown(program, 0, 0) == 0)
        let plain = try launch(program, ["tracker"], environment: ["LD_PRELOAD": name, "MEMDRIFT_OUTPUT": control])
        #expect(plain.stdoutText == "fault-die: tracker loaded=1 active=1\n")
        #expect(try Session.open(control).series.count == 1)
    }

    @Test func theEnvironmentIsNotRecorded() throws {
        let secret = "memdrift-secret-" + UUID().uuidString
        let session = try scratchDirectory() + "/session"
        let program = Built.path("fault-exec-chain")
        let outcome = try launch(
            Built.memdrift, ["run", "-q", "-o", session, "--", program, "2"], environment: ["MEMDRIFT_TEST_SECRET": secret])
        #expect(outcome.status == 0)
        var searched = 0, programMentions = 0
        let enumerator = FileManager.default.enumerator(atPath: session)
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: session + "/" + relative, isDirectory: &isDirectory),
                !isDirectory.boolValue
            else { continue }
            let bytes = try Data(contentsOf: URL(fileURLWithPath: session + "/" + relative))
            searched += 1
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(relative) holds an environment variable's value")
            // The control: the command line and executable path are recorded, so the search reads the right bytes.
            if bytes.range(of: Data(program.utf8)) != nil { programMentions += 1 }
        }
        // session.json, the Node.js probe, and the snapshots of every image (a start snapshot when it
        // came before the exec, and a final one); all but the probe name the program.
        #expect(searched >= 4)
        #expect(programMentions == searched - 1)
    }

    private func mode(_ path: String) throws -> mode_t {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw TestFailure("cannot stat \(path)") }
        return info.st_mode & 0o7777
    }
}
