/// Why `memdrift run` could not record; each message is one line.
public enum RecordingError: Error, Equatable, CustomStringConvertible {
    case emptyCommand
    case trackerNotFound(searched: [String])
    case trackerUnusable(path: String, reason: String)
    case outputUnusable(path: String, reason: String)
    case commandNotStarted(command: String, reason: String, notFound: Bool)
    case invalidOption(String)

    public var description: String {
        switch self {
        case .emptyCommand: "no command to run: put it after '--', e.g. memdrift run -- ./server --port 8080"
        case .trackerNotFound(let searched):
            "cannot find the tracker library (looked for \(searched.joined(separator: ", "))); build it with 'swift build' or pass --tracker PATH"
        case .trackerUnusable(let path, let reason): "cannot use the tracker \(path): \(reason)"
        case .outputUnusable(let path, let reason): "cannot use \(path) as the session directory: \(reason)"
        case .commandNotStarted(let command, let reason, _): "cannot start \(command): \(reason)"
        case .invalidOption(let text): text
        }
    }

    /// The exit code shells use for a command that could not start (127 not found, 126 otherwise), else 2.
    public var exitCode: Int32 {
        if case .commandNotStarted(_, _, let notFound) = self { return notFound ? 127 : 126 }
        return 2
    }
}
