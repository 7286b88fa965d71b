import Foundation

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
        let directory = (executablePath as NSString).deletingLastPathComponent
        let candidates = [directory, (directory as NSString).appendingPathComponent("../lib")].flatMap { dir in
            fileNames.map { ((dir as NSString).appendingPathComponent($0) as NSString).standardizingPath }
        }
        guard let found = candidates.first(where: { FileManager.default.isReadableFile(atPath: $0) }) else {
            throw .trackerNotFound(searched: candidates)
        }
        return found
    }

    /// The running executable's path, resolved through /proc/self/exe.
    public static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }
}
