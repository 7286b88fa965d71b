import MemdriftCore

/// Why bytes could not be read as a pprof profile; each message is one line.
public enum PprofError: Error, Equatable, CustomStringConvertible {
    /// The bytes do not start with gzip's magic number; `start` is what they start with instead.
    case notGzip(start: [UInt8])
    /// zlib rejected the compressed stream.
    case corruptGzip(detail: String)
    /// The compressed stream ends before its end marker.
    case truncatedGzip
    /// Uncompressed, the profile would exceed `limit` bytes.
    case tooLarge(limit: Int)
    /// A field runs past the end of its message; `offset` is where it starts in the protobuf bytes.
    case truncated(offset: Int)
    /// The protobuf bytes at `offset` are not what profile.proto allows there.
    case malformed(offset: Int, detail: String)
    /// A string index outside the string table.
    case stringIndexOutOfRange(index: Int64, count: Int)
    /// The profile refers to an ID it does not define, or its parts do not fit together.
    case inconsistent(detail: String)
    /// A valid profile, but not a heap profile: it lacks the `inuse_space` sample type.
    case notAHeapProfile(sampleTypes: [String])

    public var description: String {
        switch self {
        case .notGzip(let start):
            start.isEmpty ? "not a pprof profile: it is empty" : "not a pprof profile: not gzip data (starts with \(show(start)))"
        case .corruptGzip(let detail): "not a pprof profile: corrupt gzip data (\(detail))"
        case .truncatedGzip: "not a pprof profile: the gzip data ends early (truncated)"
        case .tooLarge(let limit):
            "pprof profile is larger than \(Units.formatBytes(UInt64(clamping: limit))) uncompressed; not read"
        case .truncated(let offset): "not a pprof profile: a field at byte \(offset) runs past the end of its message"
        case .malformed(let offset, let detail): "not a pprof profile: at byte \(offset): \(detail)"
        case .stringIndexOutOfRange(let index, let count):
            "not a pprof profile: string index \(index) is out of range (the string table has \(count) entries)"
        case .inconsistent(let detail): "not a pprof profile: \(detail)"
        case .notAHeapProfile(let types):
            "not a Go heap profile: its sample types are \(types.isEmpty ? "none" : types.joined(separator: ", ")), without inuse_space"
        }
    }
}

/// Up to eight leading bytes as quoted text when they are printable ASCII (an HTML page, say), else as hex.
private func show(_ bytes: [UInt8]) -> String {
    let head = bytes.prefix(8)
    if head.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") }) {
        return "\"\(String(decoding: head, as: UTF8.self))\""
    }
    let digits = Array("0123456789abcdef")
    return head.map { String([digits[Int($0 >> 4)], digits[Int($0 & 0xF)]]) }.joined(separator: " ")
}
