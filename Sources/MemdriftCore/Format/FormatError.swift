/// Why a session or snapshot could not be read; each message is one line naming the file.
public enum FormatError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case empty(path: String)
    case notASnapshot(path: String)
    case newerVersion(path: String, found: UInt32, supported: UInt32)
    case truncated(path: String, offset: Int, needed: Int)
    case corrupt(path: String, offset: Int, detail: String)
    case checksumMismatch(path: String)
    case notASession(path: String)
    case emptySession(path: String)
    /// Nothing usable is left once damaged files are skipped.
    case unusable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .empty(let path): "\(path) is empty, not a memdrift snapshot"
        case .notASnapshot(let path): "\(path) is not a memdrift snapshot (wrong magic bytes)"
        case .newerVersion(let path, let found, let supported):
            "\(path) has snapshot format version \(found); this memdrift reads up to version \(supported), upgrade it"
        case .truncated(let path, let offset, let needed):
            "\(path) is truncated: needed \(needed) more bytes at offset \(offset)"
        case .corrupt(let path, let offset, let detail): "\(path) is corrupt at offset \(offset): \(detail)"
        case .checksumMismatch(let path): "\(path) is corrupt: its checksum does not match its contents"
        case .notASession(let path):
            "\(path) is not a memdrift session (expected pid-* directories of snapshots) nor a snapshot file"
        case .emptySession(let path): "\(path) holds no snapshots yet"
        case .unusable(let path, let reason): "\(path) has nothing usable: \(reason)"
        }
    }
}
