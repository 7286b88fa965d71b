import FoundationEssentials
import Glibc
import MemdriftCore

/// Samples /proc for the processes the tracker is not in (static binaries such as Go's, setuid
/// programs, programs that drop LD_PRELOAD, and every process `watch` follows) and writes their
/// samples as snapshot files of the session, flagged as observed: figures only.
///
/// A process is known by its pid and start time, so a reused pid starts a new series; a new
/// executable under the same pid (exec) starts the next image, as the tracker numbers them.
final class ProcSampler {
    /// What is known of one process image being sampled.
    private struct Image {
        var directory: String?
        var executable: String
        var traced: Bool
        /// Not mapping the tracker yet, but preloading it: just exec'd, before the loader maps it.
        var deciding = false
        var sequence: UInt64 = 0
        var firstMonotonic: UInt64
        var firstWall: UInt64
    }

    private let session: String
    private let interval: Double
    /// The tracker's file (canonical path); processes that map it write their own snapshots.
    private let tracker: String?
    private var images: [ProcessKey: Image] = [:]
    /// memdrift's own executable: a child between fork and exec is still memdrift, not the program.
    private let ownExecutable = TrackerLocator.executablePath()
    private var due: UInt64 = 0
    /// Failures already reported, so each is said once.
    private var reported: Set<String> = []

    private struct ProcessKey: Hashable {
        var pid: pid_t
        var startTicks: UInt64
    }

    /// Samples into `session` every `interval` seconds; with `tracker`, processes that map it are skipped.
    init(session: String, interval: Double, tracker: String?) {
        self.session = session
        self.interval = interval
        self.tracker = tracker.map(Path.canonical)
    }

    /// Whether the next interval sample is due; when it is, the one after is scheduled.
    func isDue() -> Bool {
        let now = monotonicNanos()
        guard now >= due else { return false }
        due = now + UInt64(interval * 1e9)
        return true
    }

    /// Samples `pids` now (at the end of a run, before the tree is stopped).
    @discardableResult
    func sample(_ pids: [pid_t], reason: SnapshotReason) -> [String] {
        var warnings: [String] = []
        var alive: Set<ProcessKey> = []
        for pid in pids {
            // A zombie (a child its parent has not waited for yet) has no memory left to sample.
            guard let stat = ProcStat(pid: pid), !stat.isZombie else { continue }
            let key = ProcessKey(pid: pid, startTicks: stat.startTicks)
            alive.insert(key)
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
            guard executable != ownExecutable else { continue }
            var image: Image
            if let known = images[key], known.executable == executable {
                image = known
                if image.deciding {
                    // Sampled between exec and the loader mapping the preload: decided now, or later.
                    image.traced = tracker.map { ProcessTree.hasMapped($0, in: pid) } ?? false
                    image.deciding = !image.traced && monotonicNanos() - image.firstMonotonic < Self.loadingGrace
                }
            } else {
                // A new process, or an exec under a known pid: a new image, traced or not. A process
                // that is exiting has no mappings left to tell: it is not taken for an untraced one.
                let maps = readWholeTextFile("/proc/\(pid)/maps")
                if maps?.isEmpty == true { continue }
                image = Image(
                    directory: nil, executable: executable, traced: tracker.map { maps?.contains($0) ?? false } ?? false,
                    firstMonotonic: monotonicNanos(), firstWall: wallClockNanos())
                image.deciding = !image.traced && preloadsTracker(pid, executable: executable)
            }
            if !image.traced && !image.deciding {
                if let warning = write(pid: pid, parent: stat.parent, image: &image, reason: reason) { warnings.append(warning) }
            }
            images[key] = image
        }
        images = images.filter { alive.contains($0.key) }
        return warnings
    }

    /// How long an image that preloads the tracker may take to map it before it counts as untraced
    /// (a setuid program's loader ignores the preload).
    static let loadingGrace: UInt64 = 1_000_000_000

    /// Whether the process may yet map the tracker: a loader runs, and LD_PRELOAD names the tracker
    /// or the environment reads empty (in the middle of exec it does, before the new image's is set).
    private func preloadsTracker(_ pid: pid_t, executable: String) -> Bool {
        guard let tracker, let environment = readWholeTextFile("/proc/\(pid)/environ") else { return false }
        if !environment.isEmpty {
            let preload = environment.split(separator: "\0").first { $0.hasPrefix("LD_PRELOAD=") }
            guard let entries = preload?.dropFirst("LD_PRELOAD=".count).split(whereSeparator: { $0 == ":" || $0 == " " }),
                entries.contains(where: { Path.canonical(String($0)) == tracker })
            else { return false }
        }
        return !PreloadCheck.isStaticELF(executable)
    }

    /// Writes one observed snapshot; returns a warning the first time writing fails.
    private func write(pid: pid_t, parent: pid_t, image: inout Image, reason: SnapshotReason) -> String? {
        guard let status = readWholeTextFile("/proc/\(pid)/status", limit: 64 * 1024) else { return nil }
        if image.directory == nil {
            image.directory = createSeries(pid)
            if image.directory == nil { return once("cannot create a series for pid \(pid) in \(session)") }
        }
        guard let directory = image.directory else { return nil }
        image.sequence += 1
        var figures = ProcessFigures()
        for (key, id) in [
            ("VmRSS:", ProcessFigures.ID.vmRSS), ("RssAnon:", .rssAnon), ("RssFile:", .rssFile), ("RssShmem:", .rssShmem),
            ("VmSize:", .vmSize), ("VmHWM:", .vmHWM),
        ] {
            figures[id] = Self.kibField(status, key) * 1024
        }
        let command = (readWholeFile("/proc/\(pid)/cmdline", limit: 1 << 20) ?? [])
            .split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        let header = SnapshotHeader(
            flags: 0x4, reason: reason, pid: pid, parentPID: parent, sequence: image.sequence, wallClockNanos: wallClockNanos(),
            monotonicNanos: monotonicNanos(), startWallClockNanos: image.firstWall, startMonotonicNanos: image.firstMonotonic,
            intervalNanos: UInt64(interval * 1e9), maxDepth: 0)
        let snapshot = Snapshot(
            header: header, executable: image.executable, commandLine: command.last == "" ? Array(command.dropLast()) : command,
            figures: figures, modules: [], stacks: [])
        let error = SessionFiles.writeAtomically(
            SnapshotEncoder.encode(snapshot), directory: directory, name: SnapshotSeries.fileName(sequence: image.sequence))
        return error.map { once("cannot write a snapshot in \(directory): \($0)") } ?? nil
    }

    /// The next free `pid-N[.k]` directory, numbered like the tracker's images.
    private func createSeries(_ pid: pid_t) -> String? {
        for image in 1..<10000 {
            let path = Path.join(session, image == 1 ? "pid-\(pid)" : "pid-\(pid).\(image)")
            if mkdir(path, 0o700) == 0 { return path }
            if errno != EEXIST { return nil }
        }
        return nil
    }

    private func once(_ message: String) -> String? { reported.insert(message).inserted ? message : nil }

    /// A `Key:   123 kB` field of /proc/PID/status, in KiB.
    static func kibField(_ status: String, _ key: String) -> UInt64 {
        for line in status.split(separator: "\n") where line.hasPrefix(key) {
            return UInt64(line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
        return 0
    }
}

/// The fields of /proc/PID/stat that identify a process: its parent and when it started.
struct ProcStat {
    var parent: pid_t
    /// Exited (or being reaped), waiting for its parent: state Z or X.
    var isZombie: Bool
    /// Start time in clock ticks after boot: with the pid, it tells a process from a later one reusing the pid.
    var startTicks: UInt64

    /// Reads /proc/PID/stat; nil when the process is gone. The command name may hold spaces and parentheses.
    init?(pid: pid_t) {
        guard let text = readWholeTextFile("/proc/\(pid)/stat", limit: 4096), let close = text.lastIndex(of: ")") else {
            return nil
        }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the name: state (3), ppid (4), ... starttime (22).
        guard fields.count > 19, let parent = pid_t(fields[1]), let start = UInt64(fields[19]) else { return nil }
        self.parent = parent
        self.isZombie = fields[0] == "Z" || fields[0] == "X"
        self.startTicks = start
    }
}

func monotonicNanos() -> UInt64 { clockNanos(CLOCK_MONOTONIC) }
func wallClockNanos() -> UInt64 { clockNanos(CLOCK_REALTIME) }

private func clockNanos(_ clock: clockid_t) -> UInt64 {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
