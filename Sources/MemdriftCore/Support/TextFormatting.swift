import FoundationEssentials
import Glibc

extension String {
    /// `value` with exactly `decimals` digits after the point, rounded as C's `%.*f` rounds
    /// (to nearest on the exact binary value, ties to even): the text `String(format:)` gave.
    public init(_ value: Double, decimals: Int) {
        self = printFixed(value, decimals: decimals)
    }
}

/// printf's `%.*f`; memdrift never calls setlocale, so it stays in the C locale and writes a '.'.
private func printFixed(_ value: Double, decimals: Int) -> String {
    let arguments: [any CVarArg] = [Int32(decimals), value]
    let length = Int(max(withVaList(arguments) { vsnprintf(nil, 0, "%.*f", $0) }, 0))
    var buffer = [CChar](repeating: 0, count: length + 1)
    _ = withVaList(arguments) { vsnprintf(&buffer, buffer.count, "%.*f", $0) }
    return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension StringProtocol {
    /// The text without leading and trailing tabs and spaces (any Unicode space separator); line
    /// breaks stay.
    public func trimmingSpacesAndTabs() -> String {
        let scalars = Substring(self).unicodeScalars
        func isBlank(_ s: Unicode.Scalar) -> Bool { s == "\t" || s.properties.generalCategory == .spaceSeparator }
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end && isBlank(scalars[start]) { start = scalars.index(after: start) }
        while end > start && isBlank(scalars[scalars.index(before: end)]) { end = scalars.index(before: end) }
        return String(scalars[start..<end])
    }
}

/// Times as text, formatted with strftime: Foundation's date formatters load ICU, which would
/// add tens of milliseconds to every run.
public enum Timestamp {
    /// `date` in UTC with the fraction of a second dropped, e.g. `2024-05-01T12:00:00Z`.
    public static func iso8601(_ date: Date) -> String { format(date, "%Y-%m-%dT%H:%M:%SZ", utc: true) }

    /// `date` to the second through strftime's `format`, in UTC or in local time.
    public static func format(_ date: Date, _ format: String, utc: Bool) -> String {
        var moment = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        var buffer = [CChar](repeating: 0, count: 64)
        let converted = utc ? gmtime_r(&moment, &parts) : localtime_r(&moment, &parts)
        let length = converted == nil ? 0 : strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Error {
    /// Why a file operation failed, in the system's words (e.g. "Permission denied") when the
    /// error carries an errno, else the error's own description.
    public var fileErrorReason: String {
        let posix = (self as? POSIXError) ?? ((self as? CocoaError)?.underlying as? POSIXError)
        guard let code = posix?.code.rawValue else { return String(describing: self) }
        return String(cString: strerror(code))
    }
}

/// `1 snapshot`, `2 snapshots`, `1 process`, `3 processes`.
public func plural<N: BinaryInteger>(_ n: N, _ noun: String) -> String {
    if n == 1 || n == -1 { return "\(n) \(noun)" }
    return "\(n) \(noun.hasSuffix("ss") ? noun + "es" : noun + "s")"
}
