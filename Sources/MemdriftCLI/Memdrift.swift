import ArgumentParser
import Glibc
import MemdriftCore
import MemdriftRecording
import MemdriftSymbolization

/// The memdrift command line: each subcommand lives in its own file as an extension.
@main
struct Memdrift: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memdrift",
        abstract: "Find memory that grows in long-running Linux processes, and the call site that grows it.",
        discussion: """
            Record a process with `memdrift run`; every command reads the session directory it writes. Durations read like 90s, 30m or 2h; sizes like 512KiB, 10MB or 1GiB.

            Exit codes: the target's for run (the gate's with --gate), 0/1 for gate's pass/fail, 2 for bad input or usage.
            """,
        version: "0.1.0",
        subcommands: [
            Run.self, Watch.self, Report.self, Diff.self, GateCommand.self, Folded.self, Pprof.self, SnapshotRequest.self,
        ])

    /// Parses and runs; usage errors and bad input are one line on stderr and exit code 2.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
            hintAtMissingSymbols()
        } catch let code as ExitCode {
            hintAtMissingSymbols()
            Glibc.exit(code.rawValue)  // the target's own code, whatever it is
        } catch let error as UserFacingError {
            fail(error.message, code: error.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code.rawValue != ExitCode.validationFailure.rawValue {
                exit(withError: error)
            }
            let message = Memdrift.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid usage"
            fail("\(message) (see 'memdrift help')", code: 2)
        }
    }

    /// Says once, in one line, how to get the symbols of stripped modules whose frames went unnamed.
    static func hintAtMissingSymbols() {
        if let line = DebugSymbolsHint.line(for: sharedSymbolizer.modulesWithoutSymbols) { StandardError.write(line) }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        StandardError.write("memdrift: \(message)\n")
        Glibc.exit(code)
    }
}

/// An error whose message is shown as is, with its own exit code.
struct UserFacingError: Error {
    let message: String
    let exitCode: Int32

    init(message: String, exitCode: Int32) {
        self.message = message
        self.exitCode = exitCode
    }

    init(_ error: any Error) {
        switch error {
        case let e as RecordingError: (message, exitCode) = (e.description, e.exitCode)
        case let e as CustomStringConvertible: (message, exitCode) = (e.description, 2)
        default: (message, exitCode) = ("\(error)", 2)
        }
    }
}

/// Runs `body`, turning any domain error into a one-line message and exit code 2.
func userFacing<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw UserFacingError(error) }
}
