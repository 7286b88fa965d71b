import FoundationEssentials
import Glibc

/// File paths as text: joining, splitting and making them canonical.
public enum Path {
    /// `directory` and `name` joined by one slash (none added when `directory` ends in one); an
    /// empty side gives the other unchanged.
    public static func join(_ directory: String, _ name: String) -> String {
        if name.isEmpty { return directory }
        if directory.isEmpty { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The last component, e.g. `server` for `/usr/bin/server/`; `/` stays `/`.
    public static func lastComponent(of path: String) -> String {
        let parts = path.split(separator: "/")
        guard let last = parts.last else { return path.isEmpty ? "" : "/" }
        return String(last)
    }

    /// The path without its last component, e.g. `/usr/bin` for `/usr/bin/server/`: `/` for a
    /// component right under the root, empty for a single relative component.
    public static func deletingLastComponent(of path: String) -> String {
        let parts = path.split(separator: "/")
        let absolute = path.hasPrefix("/")
        guard parts.count > 1 else { return absolute ? "/" : "" }
        return (absolute ? "/" : "") + parts.dropLast().joined(separator: "/")
    }

    /// The canonical path of an existing file (symbolic links resolved, realpath(3)); for a path
    /// that does not exist, the path with repeated slashes, `.` components and `name/..` pairs
    /// removed.
    public static func canonical(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        var kept: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..":
                if let last = kept.last, last != ".." {
                    kept.removeLast()
                } else if !path.hasPrefix("/") {
                    kept.append(part)
                }
            default: kept.append(part)
            }
        }
        let joined = kept.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}
