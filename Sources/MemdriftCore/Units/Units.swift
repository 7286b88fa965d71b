/// A duration, size or rate the user typed that memdrift could not read.
public struct UnitError: Error, Equatable, CustomStringConvertible {
    public let text: String
    public let expected: String

    public var description: String {
        "invalid \(expected.split(separator: " ").first ?? "value") '\(text)': expected \(expected)"
    }
}

/// Parses and prints durations, byte sizes and growth rates the way people write them.
public enum Units {
    private static let durationHelp = "duration such as 90s, 30m, 2h, 1h30m, 500ms or 1d"
    private static let sizeHelp = "size such as 512KiB, 10MB, 1GiB or 4096"
    private static let rateHelp = "rate such as 1MiB/h, 10KiB/s or 500KB/min"

    /// Seconds in `text`: `90s`, `30m`, `2h`, `1d`, `500ms`, `1h30m`; a bare number is seconds.
    public static func seconds(_ text: String) throws(UnitError) -> Double {
        let s = text.trimmingWhitespace()
        if let plain = Double(s), plain >= 0, plain.isFinite { return plain }
        var total = 0.0
        var rest = Substring(s)
        guard !rest.isEmpty else { throw UnitError(text: text, expected: durationHelp) }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            guard let value = Double(number), value.isFinite else { throw UnitError(text: text, expected: durationHelp) }
            let scale: Double
            switch unit.lowercased() {
            case "ms": scale = 0.001
            case "s", "sec", "secs": scale = 1
            case "m", "min", "mins": scale = 60
            case "h", "hr", "hrs": scale = 3600
            case "d", "day", "days": scale = 86400
            default: throw UnitError(text: text, expected: durationHelp)
            }
            total += value * scale
        }
        return total
    }

    /// Bytes in `text`: binary units KiB/MiB/GiB/TiB (and K/M/G/T), decimal KB/MB/GB/TB, or a bare count.
    public static func bytes(_ text: String) throws(UnitError) -> UInt64 {
        let s = text.trimmingWhitespace()
        let number = s.prefix { $0.isNumber || $0 == "." }
        let unit = s.dropFirst(number.count).trimmingWhitespace()
        guard let value = Double(number), value.isFinite, value >= 0 else { throw UnitError(text: text, expected: sizeHelp) }
        let scale: Double
        switch unit {
        case "", "B", "b": scale = 1
        case "K", "k", "KiB", "kiB": scale = 1024
        case "M", "MiB": scale = 1024 * 1024
        case "G", "GiB": scale = 1024 * 1024 * 1024
        case "T", "TiB": scale = 1024 * 1024 * 1024 * 1024
        case "KB", "kB", "kb": scale = 1000
        case "MB": scale = 1e6
        case "GB": scale = 1e9
        case "TB": scale = 1e12
        default: throw UnitError(text: text, expected: sizeHelp)
        }
        let result = (value * scale).rounded()
        guard result < 1.8e19 else { throw UnitError(text: text, expected: sizeHelp) }
        return UInt64(result)
    }

    /// Bytes per hour in `text`, e.g. `1MiB/h`, `10KiB/s`, `500KB/min`, `2MB/d`.
    public static func bytesPerHour(_ text: String) throws(UnitError) -> Double {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw UnitError(text: text, expected: rateHelp) }
        let size: UInt64
        let per: Double
        do {
            size = try bytes(String(parts[0]))
            let unit = String(parts[1]).trimmingWhitespace()
            per = try seconds(unit.first?.isNumber == true ? unit : "1" + unit)
        } catch {
            throw UnitError(text: text, expected: rateHelp)
        }
        guard per > 0 else { throw UnitError(text: text, expected: rateHelp) }
        return Double(size) * 3600 / per
    }

    /// `13.4 KiB`-style text for a byte count.
    public static func formatBytes(_ bytes: UInt64) -> String { formatBytes(Double(bytes)) }

    /// `13.4 KiB`-style text of a signed count.
    public static func formatBytes(_ bytes: Int64) -> String { formatBytes(Double(bytes)) }

    /// `13.4 KiB`-style text; negative values keep their sign.
    public static func formatBytes(_ bytes: Double) -> String {
        let magnitude = abs(bytes)
        let sign = bytes < 0 ? "-" : ""
        if magnitude < 1024 { return "\(sign)\(Int(magnitude)) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = magnitude / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return "\(sign)\(oneDecimal(value)) \(units[unit])"
    }

    /// `+9.6 KiB` / `-1.0 MiB` / `0 B` for a change in bytes.
    public static func formatDelta(_ bytes: Int64) -> String {
        bytes > 0 ? "+" + formatBytes(Double(bytes)) : formatBytes(Double(bytes))
    }

    /// `45s`, `2m05s`, `1h02m03s` for a number of seconds.
    public static func formatDuration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let h = total / 3600, m = (total % 3600) / 60, s = total % 60
        if h > 0 { return "\(h)h\(twoDigits(m))m\(twoDigits(s))s" }
        if m > 0 { return "\(m)m\(twoDigits(s))s" }
        return "\(s)s"
    }

    private static func twoDigits(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

    private static func oneDecimal(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
