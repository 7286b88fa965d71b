import FoundationEssentials
import Glibc
import MemdriftCore

/// Creates the private directory a run writes its session into.
public enum SessionDirectory {
    /// The default name: `memdrift-<command>-<yyyyMMdd-HHmmss>` in the current directory.
    public static func defaultName(command: String, date: Date = Date()) -> String {
        let stamp = Timestamp.format(date, "%Y%m%d-%H%M%S", utc: false)
        let base = Path.lastComponent(of: command)
        let safe = String(base.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        return "memdrift-\(safe.isEmpty ? "run" : safe)-\(stamp)"
    }

    /// Creates (or accepts an empty, private, own) directory and returns its absolute path.
    ///
    /// Refuses symlinks, other users' directories and directories that already hold files,
    /// so two runs never mix their snapshots and nobody else can plant files in a session.
    public static func prepare(_ requested: String?, command: String) throws(RecordingError) -> String {
        guard let requested else { return try createUnique(TrackerLocator.absolutePath(defaultName(command: command))) }
        let path = TrackerLocator.absolutePath(requested)
        if mkdir(path, 0o700) == 0 { return path }
        let createError = errno
        guard createError == EEXIST else {
            throw .outputUnusable(path: path, reason: String(cString: strerror(createError)))
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { throw .outputUnusable(path: path, reason: String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw .outputUnusable(path: path, reason: "it exists and is not a directory")
        }
        guard info.st_uid == geteuid() else { throw .outputUnusable(path: path, reason: "it belongs to another user") }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        guard contents.isEmpty else {
            throw .outputUnusable(path: path, reason: "it is not empty; choose a new --output directory")
        }
        guard chmod(path, 0o700) == 0 else { throw .outputUnusable(path: path, reason: String(cString: strerror(errno))) }
        return path
    }

    /// Creates `base`, or `base-2`, `base-3`, ... when runs started in the same second (parallel CI jobs).
    static func createUnique(_ base: String) throws(RecordingError) -> String {
        for n in 1...1000 {
            let path = n == 1 ? base : "\(base)-\(n)"
            if mkdir(path, 0o700) == 0 { return path }
            guard errno == EEXIST else { throw .outputUnusable(path: path, reason: String(cString: strerror(errno))) }
        }
        throw .outputUnusable(path: base, reason: "1000 sessions of that name already exist; pass --output")
    }

    /// Removes snapshots that were being written when their process was killed (`.snap-*.tmp`):
    /// readers ignore them, but they are dead weight in a CI artifact.
    public static func removeTemporaryFiles(_ session: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: session)) ?? []
        for name in names where name.hasPrefix("pid-") {
            let directory = Path.join(session, name)
            for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            where file.hasPrefix(".snap-") && file.hasSuffix(".tmp") {
                unlink(Path.join(directory, file))
            }
        }
    }
}
