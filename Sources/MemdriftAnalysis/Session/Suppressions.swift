import FoundationEssentials
import MemdriftCore
import MemdriftSymbolization

/// Call sites the user has accepted, in LeakSanitizer's format: one `leak:PATTERN` per line.
///
/// A pattern matches a frame's function, module or source file. `*` matches any run of
/// characters; `^` anchors at the start and `$` at the end; otherwise it may match anywhere,
/// as in LeakSanitizer. `#` starts a comment.
public struct Suppressions: Sendable {
    public private(set) var patterns: [String] = []

    /// No suppressions.
    public init() {}

    /// Whether no pattern was given.
    public var isEmpty: Bool { patterns.isEmpty }

    /// Parses suppressions text; `path` names the file in errors.
    public init(text: String, path: String) throws(SuppressionError) {
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingSpacesAndTabs()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw SuppressionError(path: path, line: number + 1, message: "expected 'leak:PATTERN', found '\(line)'")
            }
            let kind = line[..<colon]
            let pattern = line[line.index(after: colon)...].trimmingSpacesAndTabs()
            guard kind == "leak" else {
                throw SuppressionError(
                    path: path, line: number + 1,
                    message: "unsupported suppression type '\(kind)' (only 'leak:' applies to memory growth)")
            }
            guard !pattern.isEmpty else { throw SuppressionError(path: path, line: number + 1, message: "empty pattern") }
            patterns.append(pattern)
        }
    }

    /// Reads a suppressions file.
    public static func load(path: String) throws(SuppressionError) -> Suppressions {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SuppressionError(path: path, line: 0, message: "cannot read the file")
        }
        return try Suppressions(text: text, path: path)
    }

    /// The first pattern matching any of the frames, if one does.
    public func match(_ frames: [SymbolizedFrame]) -> String? {
        for pattern in patterns {
            for frame in frames {
                let fields = [frame.function, frame.module, frame.file].compactMap { $0 }
                if fields.contains(where: { Self.matches(pattern, $0) }) { return pattern }
            }
        }
        return nil
    }

    /// LeakSanitizer-style matching: substring with `*` wildcards, `^` and `$` anchors.
    static func matches(_ pattern: String, _ text: String) -> Bool {
        var p = Substring(pattern)
        let anchoredStart = p.hasPrefix("^")
        if anchoredStart { p = p.dropFirst() }
        let anchoredEnd = p.hasSuffix("$")
        if anchoredEnd { p = p.dropLast() }
        let pieces = p.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        var rest = Substring(text)
        for (i, piece) in pieces.enumerated() {
            if piece.isEmpty { continue }
            if i == 0 && anchoredStart {
                guard rest.hasPrefix(piece) else { return false }
                rest = rest.dropFirst(piece.count)
                continue
            }
            if i == pieces.count - 1 && anchoredEnd {
                return rest.hasSuffix(piece)
            }
            guard let found = rest.firstRange(of: piece) else { return false }
            rest = rest[found.upperBound...]
        }
        return !anchoredEnd || pieces.last?.isEmpty == true || rest.isEmpty
    }
}

/// A suppressions file that could not be used.
public struct SuppressionError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let line: Int
    public let message: String

    public var description: String { line > 0 ? "\(path):\(line): \(message)" : "\(path): \(message)" }
}
