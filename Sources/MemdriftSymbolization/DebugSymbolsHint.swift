import MemdriftCore

#if canImport(Glibc)
    import Glibc
#endif

/// One line telling how to get the symbols a report was missing.
public enum DebugSymbolsHint {
    /// The hint for `modules` (paths of stripped modules without debug files), nil when there are none.
    ///
    /// Debian-packaged files name the `-dbgsym` package that carries their debug file (from the
    /// debian-debug archive); other files need a build with `-g` or their debug file installed.
    public static func line(for modules: [String], packageOf: (String) -> String? = DebianPackages.owner) -> String? {
        guard !modules.isEmpty else { return nil }
        let names = modules.map(baseName).joined(separator: ", ")
        var packages: [String] = []
        for module in modules { if let p = packageOf(module), !packages.contains(p) { packages.append(p) } }
        var line =
            "memdrift: \(names) \(modules.count == 1 ? "has" : "have") no symbols beyond exported functions (stripped, no debug file under /usr/lib/debug)"
        if packages.isEmpty {
            line += "; rebuild with -g or install the debug file as /usr/lib/debug/.build-id/xx/rest.debug"
        } else {
            let list = packages.map { "\($0)-dbgsym" }.joined(separator: " ")
            line += "; for names and lines: apt-get install \(list) (add the debian-debug archive first)"
        }
        return line + "\n"
    }
}

/// Which Debian package installed a file, from dpkg's own lists (no subprocess).
public enum DebianPackages {
    /// The package that lists `path` (also tried without or with a leading /usr, for merged-/usr systems).
    public static func owner(of path: String) -> String? {
        let directory = "/var/lib/dpkg/info"
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var candidates = [path]
        if path.hasPrefix("/usr/") { candidates.append(String(path.dropFirst(4))) } else { candidates.append("/usr" + path) }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard name.hasSuffix(".list") else { continue }
            guard let text = readWholeTextFile(directory + "/" + name) else { continue }
            for line in text.split(separator: "\n") where candidates.contains(where: { $0 == line }) {
                let package = String(name.dropLast(5))
                return package.split(separator: ":").first.map(String.init) ?? package
            }
        }
        return nil
    }
}
