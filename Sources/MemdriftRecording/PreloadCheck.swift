import FoundationEssentials
import Glibc
import MemdriftCore

/// Why LD_PRELOAD cannot put the tracker into a program, found before it is started.
public enum PreloadObstacle: Equatable, Sendable {
    /// An ELF executable without a program interpreter: no dynamic loader runs, so nothing is preloaded.
    case staticallyLinked(path: String)
    /// A set-user-ID or set-group-ID file: the loader ignores LD_PRELOAD paths with slashes, and the
    /// tracker stays off under secure execution anyway.
    case setID(path: String, bit: String)

    /// One line for stderr; the program is still run.
    public var message: String {
        switch self {
        case .staticallyLinked(let path):
            "\(path) is statically linked; LD_PRELOAD cannot load the tracker into it, so only its memory figures (RSS) are recorded, from /proc"
        case .setID(let path, let bit):
            "\(path) is \(bit); the loader ignores LD_PRELOAD for it and the tracker stays off under secure execution, so only its memory figures (RSS) are recorded, from /proc"
        }
    }
}

/// Looks at the executable a command would start, to say plainly when the tracker cannot be preloaded.
public enum PreloadCheck {
    /// The obstacle for `command` (resolved through PATH like execvp), or nil when preloading can work
    /// or the file cannot be inspected (scripts, missing files: their own errors come later).
    public static func obstacle(for command: String, path: String? = ProcessInfo.processInfo.environment["PATH"])
        -> PreloadObstacle?
    {
        guard let file = resolve(command, path: path) else { return nil }
        var info = stat()
        guard stat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        if info.st_mode & S_ISUID != 0 { return .setID(path: file, bit: "setuid") }
        if info.st_mode & S_ISGID != 0 && info.st_mode & S_IXGRP != 0 { return .setID(path: file, bit: "setgid") }
        return isStaticELF(file) ? .staticallyLinked(path: file) : nil
    }

    /// The file execvp would run for `command`.
    static func resolve(_ command: String, path: String?) -> String? {
        if command.contains("/") { return TrackerLocator.absolutePath(command) }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + command
            if access(candidate, X_OK) == 0 { return TrackerLocator.absolutePath(candidate) }
        }
        return nil
    }

    /// True for an ELF executable with program headers but no PT_INTERP (static and static-pie alike).
    static func isStaticELF(_ file: String) -> Bool {
        guard let elf = ELFProgramHeaders(path: file), elf.segmentTypes.contains(ELFProgramHeaders.load) else { return false }
        // PT_INTERP means the dynamic loader runs and honours LD_PRELOAD. A shared library without
        // one is not started directly: only executables (or entry points) count.
        return !elf.segmentTypes.contains(ELFProgramHeaders.interpreter)
            && (elf.fileType == ELFProgramHeaders.executable || elf.hasEntryPoint)
    }
}

/// The few facts of an ELF file's header and program header table that preloading depends on.
struct ELFProgramHeaders {
    static let executable: UInt64 = 2, sharedObject: UInt64 = 3
    static let load: UInt32 = 1, dynamic: UInt32 = 2, interpreter: UInt32 = 3

    /// ET_EXEC, ET_DYN, ...
    var fileType: UInt64
    var hasEntryPoint: Bool
    /// The p_type of every program header.
    var segmentTypes: [UInt32]

    /// Reads the header and program header table; nil for anything that is not a complete ELF file.
    init?(path: String) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let header = readUpTo(64, from: fd, at: 0), header.count >= 52, header.starts(with: [0x7F, 0x45, 0x4C, 0x46]),
            header[4] == 1 || header[4] == 2, header[5] == 1 || header[5] == 2
        else { return nil }
        let is64 = header[4] == 2, little = header[5] == 1
        guard header.count >= (is64 ? 64 : 52) else { return nil }
        func integer(_ bytes: [UInt8], _ offset: Int, _ size: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in 0..<size { value = value << 8 | UInt64(bytes[offset + (little ? size - 1 - i : i)]) }
            return value
        }
        fileType = integer(header, 16, 2)
        hasEntryPoint = (is64 ? integer(header, 24, 8) : integer(header, 24, 4)) != 0
        let tableOffset = is64 ? integer(header, 32, 8) : integer(header, 28, 4)
        let entrySize = Int(is64 ? integer(header, 54, 2) : integer(header, 42, 2))
        let count = Int(is64 ? integer(header, 56, 2) : integer(header, 44, 2))
        guard count > 0, count <= 4096, entrySize >= 4, entrySize <= 256, let tableStart = Int(exactly: tableOffset),
            let table = readUpTo(entrySize * count, from: fd, at: tableStart), table.count == entrySize * count
        else { return nil }
        segmentTypes = (0..<count).map { UInt32(integer(table, $0 * entrySize, 4)) }
    }
}
