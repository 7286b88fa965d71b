import FoundationEssentials
import Glibc

/// A session directory: one series of snapshots per traced process image.
///
/// Layout: `SESSION/pid-<pid>[.<image>]/snap-<sequence>.mds`; temporary files start with a dot.
public struct Session: Sendable {
    /// The session directory.
    public let path: String
    /// Every process image that wrote at least one snapshot, ordered by pid then image.
    public let series: [SnapshotSeries]

    /// The name of the file whose modification requests a snapshot from every traced process.
    public static let triggerFileName = "trigger"
    /// The file `memdrift run` writes first: what was run, when, and how (never the environment).
    public static let descriptionFileName = "session.json"

    /// Lists the series of the session at `path`.
    public static func open(_ path: String) throws(FormatError) -> Session {
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .unreadable(path: path, reason: "no such file or directory")
        }
        guard isDirectory else { throw .notASession(path: path) }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw .unreadable(path: path, reason: "cannot list the directory")
        }
        var series: [SnapshotSeries] = []
        for name in names {
            guard let (pid, image) = SnapshotSeries.parseName(name) else { continue }
            let directory = Path.join(path, name)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            let snapshots = files.compactMap { file -> (UInt64, String)? in
                guard let sequence = SnapshotSeries.parseSnapshotName(file) else { return nil }
                return (sequence, Path.join(directory, file))
            }.sorted { $0.0 < $1.0 }.map(\.1)
            if !snapshots.isEmpty {
                series.append(SnapshotSeries(name: name, pid: pid, image: image, snapshotPaths: snapshots))
            }
        }
        if series.isEmpty && !names.contains(where: { SnapshotSeries.parseName($0) != nil })
            && !names.contains(descriptionFileName)
        {
            throw .notASession(path: path)
        }
        series.sort { ($0.pid, $0.image) < ($1.pid, $1.image) }
        return Session(path: path, series: series)
    }

    /// Writes `session.json` into a new session directory (mode 0600, never through a symlink).
    public static func writeDescription(sessionPath: String, command: [String], intervalSeconds: Double, start: Date = Date())
        throws(FormatError)
    {
        struct Description: Encodable {
            let schema = "memdrift.session/1"
            let command: [String]
            let started: String
            let interval_seconds: Double
        }
        let description = Description(
            command: command, started: Timestamp.iso8601(start), interval_seconds: intervalSeconds)
        let path = Path.join(sessionPath, descriptionFileName)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(description) else { throw .unreadable(path: path, reason: "cannot encode") }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .unreadable(path: path, reason: systemError()) }
        defer { close(fd) }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else { throw .unreadable(path: path, reason: systemError()) }
    }

    /// Asks every process of the session at `path` to write a snapshot within about 0.1 s.
    public static func requestSnapshot(sessionPath: String) throws(FormatError) {
        let trigger = Path.join(sessionPath, triggerFileName)
        let fd = Glibc.open(trigger, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_TRUNC, 0o600)
        guard fd >= 0 else { throw .unreadable(path: trigger, reason: systemError()) }
        defer { close(fd) }
        // The tracker compares modification times; set it explicitly in case the clock is coarse.
        guard futimens(fd, nil) == 0 else { throw .unreadable(path: trigger, reason: systemError()) }
    }
}

/// The snapshots of one process image, in sequence order.
public struct SnapshotSeries: Sendable, Hashable {
    /// Directory name, e.g. `pid-4217` or `pid-4217.2` for the second image after an exec.
    public let name: String
    public let pid: Int32
    /// 1 for the first image of the pid, counting up across exec.
    public let image: Int
    public let snapshotPaths: [String]

    /// Creates a series description.
    public init(name: String, pid: Int32, image: Int, snapshotPaths: [String]) {
        self.name = name
        self.pid = pid
        self.image = image
        self.snapshotPaths = snapshotPaths
    }

    /// Reads every snapshot of the series, each whole: a delta comes back with the changes before it
    /// applied, as the state of the process at that moment.
    public func loadSnapshots() throws(FormatError) -> [Snapshot] {
        var snapshots: [Snapshot] = []
        snapshots.reserveCapacity(snapshotPaths.count)
        for path in snapshotPaths {
            let snapshot = try SnapshotReader.read(path: path)
            snapshots.append(snapshots.last.map { Snapshot.combined($0, snapshot) } ?? snapshot)
        }
        return snapshots
    }

    /// The headers of every snapshot, without reading their sections: times and sequence numbers.
    public func loadHeaders() throws(FormatError) -> [SnapshotHeader] {
        var headers: [SnapshotHeader] = []
        headers.reserveCapacity(snapshotPaths.count)
        for path in snapshotPaths { headers.append(try SnapshotReader.readHeader(path: path)) }
        return headers
    }

    /// Parses `pid-<pid>` or `pid-<pid>.<image>`.
    public static func parseName(_ name: String) -> (Int32, Int)? {
        guard name.hasPrefix("pid-") else { return nil }
        let parts = name.dropFirst(4).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let pid = Int32(parts[0]), pid > 0 else { return nil }
        guard parts.count == 2 else { return (pid, 1) }
        guard let image = Int(parts[1]), image >= 2 else { return nil }
        return (pid, image)
    }

    /// `snap-000042.mds`: the file name of snapshot `sequence`.
    public static func fileName(sequence: UInt64) -> String {
        let digits = String(sequence)
        return "snap-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + "." + SnapshotFormat.fileExtension
    }

    /// Parses `snap-<sequence>.mds`.
    public static func parseSnapshotName(_ name: String) -> UInt64? {
        guard name.hasPrefix("snap-"), name.hasSuffix("." + SnapshotFormat.fileExtension) else { return nil }
        return UInt64(name.dropFirst(5).dropLast(SnapshotFormat.fileExtension.count + 1))
    }
}

/// Writing files into a session the way the tracker does: private, never through a link, whole or absent.
public enum SessionFiles {
    /// Writes `bytes` as `directory/name` through a temporary dot-name (exclusive create, mode 0600,
    /// no symlink followed) renamed into place. Returns the system's reason when it fails.
    public static func writeAtomically(_ bytes: [UInt8], directory: String, name: String) -> String? {
        let temporary = Path.join(directory, "." + name + ".tmp")
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return systemError() }
        if let error = writeAll(bytes, to: fd) {
            close(fd)
            unlink(temporary)
            return systemError(error)
        }
        guard close(fd) == 0, rename(temporary, Path.join(directory, name)) == 0 else {
            let reason = systemError()
            unlink(temporary)
            return reason
        }
        return nil
    }
}
