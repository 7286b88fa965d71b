import Glibc
import MemdriftCore

/// Copies the perf maps runtimes write (`/tmp/perf-PID.map`) into the session as they grow, so
/// JIT and interpreter code can be named after the file is gone or has grown without bound.
///
/// Only files owned by this user and reached without a symbolic link are read; each copy is
/// capped. The originals are removed at the end of the run: they exist because `run` asked the
/// runtimes to write them.
final class PerfMapCopier {
    /// Bytes copied per process at most.
    static let limit = 64 << 20

    private let session: String
    private var copied: [Int32: Int] = [:]
    private var reported: Set<Int32> = []
    private var seen: Set<Int32> = []

    init(session: String) { self.session = session }

    /// Appends what each process's perf map gained since the last call; returns warnings to show.
    /// Processes seen once are copied again by `finish`, after they exited.
    func copy(_ pids: [Int32]) -> [String] {
        var warnings: [String] = []
        seen.formUnion(pids)
        for pid in pids {
            let source = "/tmp/perf-\(pid).map"
            let fd = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid() else { continue }
            let done = copied[pid] ?? 0
            guard Int(info.st_size) > done else { continue }
            let wanted = min(Int(info.st_size), Self.limit) - done
            guard wanted > 0 else {
                if reported.insert(pid).inserted {
                    warnings.append("the perf map of pid \(pid) passed \(Self.limit >> 20) MiB; later JIT code stays unnamed")
                }
                continue
            }
            // Only whole lines: the runtime may be writing the last one right now.
            guard let bytes = readUpTo(wanted, from: fd, at: done), let end = bytes.lastIndex(of: UInt8(ascii: "\n")) else {
                continue
            }
            if append(Array(bytes[...end]), to: PerfMap.path(in: session, pid: pid)) { copied[pid] = done + end + 1 }
        }
        return warnings
    }

    /// Copies what the processes wrote last, then removes the originals: written at memdrift's
    /// request, of no use after the run.
    func finish() -> [String] {
        let warnings = copy(Array(seen))
        for pid in copied.keys { unlink("/tmp/perf-\(pid).map") }
        return warnings
    }

    private func append(_ bytes: [UInt8], to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return writeAll(bytes, to: fd) == nil
    }
}
