import FoundationEssentials
import Glibc
import MemdriftCore

/// The live descendants of a process, read from /proc.
enum ProcessTree {
    /// Every descendant of `root` (children, grandchildren, ...), nearest first.
    static func descendants(of root: pid_t) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry), let parent = parentPID(of: pid) else { continue }
            children[parent, default: []].append(pid)
        }
        var result: [pid_t] = []
        var queue = children[root] ?? []
        while let next = queue.first {
            queue.removeFirst()
            result.append(next)
            queue.append(contentsOf: children[next] ?? [])
        }
        return result
    }

    /// The parent pid from /proc/PID/stat; the command name may hold spaces and parentheses.
    static func parentPID(of pid: pid_t) -> pid_t? {
        guard let stat = readWholeTextFile("/proc/\(pid)/stat"),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 1 else { return nil }
        return pid_t(fields[1])
    }

    /// Whether `library` (a path) is mapped into the process: the tracker is in it.
    static func hasMapped(_ library: String, in pid: pid_t) -> Bool {
        guard let maps = readWholeTextFile("/proc/\(pid)/maps") else { return false }
        return maps.contains(library)
    }

    /// Whether the process exists and is not a zombie.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = readWholeTextFile("/proc/\(pid)/stat"),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }
}
