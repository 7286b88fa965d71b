import FoundationEssentials
import MemdriftCore

/// Finds libmemdrift-preload.so: an explicit path, else next to the memdrift executable.
public enum TrackerLocator {
    /// File names the tracker is built under, preferred first.
    public static let fileNames = ["libmemdrift-preload.so", "libmemdrift.so"]

    /// The absolute path of the tracker to preload.
    public static func locate(explicit: String?, executablePath: String = executablePath()) throws(RecordingError) -> String {
        if let explicit {
            let absolute = absolutePath(explicit)
            guard FileManager.default.isReadableFile(atPath: absolute) else {
                throw .trackerUnusable(path: explicit, reason: "no readable file there")
            }
            return absolute
        }
        let directory = Path.deletingLastComponent(of: executablePath)
        let candidates = [directory, Path.join(directory, "../lib")].flatMap { dir in
            fileNames.map { Path.canonical(Path.join(dir, $0)) }
        }
        guard let found = candidates.first(where: { FileManager.default.isReadableFile(atPath: $0) }) else {
            throw .trackerNotFound(searched: candidates)
        }
        return found
    }

    /// Fails unless `path` is a complete ELF shared library, so a wrong `--tracker` is an error
    /// here rather than a loader warning in the target and an empty session.
    public static func validate(_ path: String) throws(RecordingError) {
        guard let elf = ELFProgramHeaders(path: path) else {
            throw .trackerUnusable(path: path, reason: "not an ELF file, or cut short")
        }
        guard elf.fileType == ELFProgramHeaders.sharedObject, elf.segmentTypes.contains(ELFProgramHeaders.dynamic) else {
            throw .trackerUnusable(path: path, reason: "not a shared library")
        }
        // A position-independent executable is ET_DYN too, but the loader refuses to preload one.
        guard !elf.segmentTypes.contains(ELFProgramHeaders.interpreter) else {
            throw .trackerUnusable(path: path, reason: "an executable, not a shared library")
        }
    }

    /// The running executable's path, resolved through /proc/self/exe.
    public static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : Path.join(FileManager.default.currentDirectoryPath, path)
    }
}
