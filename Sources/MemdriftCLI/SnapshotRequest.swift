import ArgumentParser
import FoundationEssentials
import Glibc
import MemdriftCore

extension Memdrift {
    /// `memdrift snapshot`: ask the processes of a running session for a snapshot now.
    struct SnapshotRequest: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "snapshot",
            abstract: "Ask every process of a running session to write a snapshot now.",
            discussion: """
                Touches SESSION/trigger; each traced process notices within about 100ms and writes a snapshot (reason "request"). A program can also call memdrift_snapshot_now() from libmemdrift-preload.so itself.
                """)

        @Argument(help: "The session directory of a running `memdrift run`.")
        var session: String

        @Option(
            name: .long, help: "Wait this long for the new snapshots and list them (0: do not wait).", transform: Units.seconds)
        var wait: Double = 2

        mutating func run() throws {
            let before = try userFacing { try Session.open(session) }
            let known = Set(before.series.flatMap(\.snapshotPaths))
            try userFacing { try Session.requestSnapshot(sessionPath: session) }
            guard wait > 0 else { return }
            let deadline = Date().addingTimeInterval(wait)
            var fresh: [String] = []
            repeat {
                usleep(100_000)
                let now = (try? Session.open(session))?.series.flatMap(\.snapshotPaths) ?? []
                fresh = now.filter { !known.contains($0) }
            } while Date() < deadline && fresh.count < max(1, Set(before.series.map(\.pid)).count)
            if fresh.isEmpty {
                throw UserFacingError(
                    message:
                        "no process of \(session) wrote a snapshot within \(Units.formatDuration(wait)); is it still running?",
                    exitCode: 1)
            }
            for path in fresh.sorted() { print(path) }
        }
    }
}
