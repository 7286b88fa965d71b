import FoundationEssentials
import Glibc
import MemdriftCore

/// One Go heap profile fetched during a session.
public struct GoHeapSample: Sendable {
    /// The file it was read from.
    public var path: String
    /// When it was fetched, CLOCK_MONOTONIC ns (the number in its file name).
    public var monotonicNanos: UInt64
    /// When Go wrote it (the profile's time_nanos), ns since the Unix epoch; the file's
    /// modification time when the profile does not say.
    public var wallClockNanos: UInt64
    /// Call sites with their counters, most live bytes first.
    public var sites: [(site: CallSite, counters: SiteCounters)]
    /// Live bytes over all sites (inuse_space), the `go.inuse` metric.
    public var inuseBytes: Int64
    /// Go's sampling period in bytes (MemProfileRate); 0 when the profile does not say.
    public var period: Int64
}

/// The Go heap profiles of a session: `SESSION/go-<pid>/heap-<monotonic ns, 20 digits>.pb.gz`,
/// each the gzipped profile.proto exactly as the process served it.
public enum GoHeapSamples {
    /// The largest file read; a Go heap profile is rarely more than a few MiB even compressed.
    public static let maximumFileSize = 64 << 20

    /// `go-<pid>`: the directory of one process's profiles.
    public static func directoryName(pid: Int32) -> String { "go-\(pid)" }

    /// The pid in a `go-<pid>` directory name; nil for any other name.
    public static func pid(fromDirectoryName name: String) -> Int32? {
        guard name.hasPrefix("go-"), let pid = Int32(name.dropFirst(3)), pid > 0, name == "go-\(pid)" else { return nil }
        return pid
    }

    /// `heap-<ns>.pb.gz`, the number zero-padded to 20 digits so names sort in time order.
    public static func fileName(monotonicNanos: UInt64) -> String {
        let digits = String(monotonicNanos)
        return "heap-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".pb.gz"
    }

    /// The monotonic time in a `heap-<20 digits>.pb.gz` name; nil for any other name (temporaries start with a dot).
    public static func monotonicNanos(fromFileName name: String) -> UInt64? {
        guard name.hasPrefix("heap-"), name.hasSuffix(".pb.gz") else { return nil }
        let digits = name.dropFirst(5).dropLast(6)
        guard digits.count == 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    /// The `go-<pid>` directories of the session at `sessionPath`, by pid.
    public static func series(sessionPath: String) -> [(pid: Int32, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sessionPath)) ?? []
        return names.compactMap { name in pid(fromDirectoryName: name).map { (pid: $0, path: Path.join(sessionPath, name)) } }
            .sorted { $0.pid < $1.pid }
    }

    /// Every profile in `directory` (a `go-<pid>` directory), in time order.
    ///
    /// A file that cannot be read or decoded is skipped with one warning naming it; the rest are still read.
    public static func read(directory: String) -> (samples: [GoHeapSample], warnings: [String]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            return ([], ["cannot read \(directory): cannot list the directory"])
        }
        var samples: [GoHeapSample] = []
        var warnings: [String] = []
        let files = names.compactMap { name in monotonicNanos(fromFileName: name).map { ($0, name) } }.sorted { $0.0 < $1.0 }
        for (monotonic, name) in files {
            let path = Path.join(directory, name)
            do throws(GoHeapFileError) {
                samples.append(try readSample(path: path, monotonicNanos: monotonic))
            } catch {
                warnings.append("skipped \(path): \(error.reason)")
            }
        }
        return (samples, warnings)
    }

    private static func readSample(path: String, monotonicNanos: UInt64) throws(GoHeapFileError) -> GoHeapSample {
        // Never through a symlink: session files are the recorder's own.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw GoHeapFileError(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw GoHeapFileError(reason: String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw GoHeapFileError(reason: "not a regular file") }
        guard info.st_size <= maximumFileSize else {
            throw GoHeapFileError(reason: "larger than \(Units.formatBytes(UInt64(maximumFileSize))); not read")
        }
        guard let bytes = readUpTo(Int(info.st_size), from: fd, at: 0) else {
            throw GoHeapFileError(reason: String(cString: strerror(errno)))
        }
        let profile: GoHeapProfile
        do {
            profile = try GoHeapProfile.decode(bytes)
        } catch {
            throw GoHeapFileError(reason: error.description)
        }
        let modified = UInt64(max(0, info.st_mtim.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, info.st_mtim.tv_nsec))
        return GoHeapSample(
            path: path, monotonicNanos: monotonicNanos,
            wallClockNanos: profile.timeNanos > 0 ? UInt64(profile.timeNanos) : modified, sites: profile.sites,
            inuseBytes: profile.inuseBytes, period: profile.period)
    }
}

/// Why one profile file was skipped.
private struct GoHeapFileError: Error {
    let reason: String
}
