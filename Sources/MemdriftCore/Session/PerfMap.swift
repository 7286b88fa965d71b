/// A runtime's perf map (`/tmp/perf-PID.map`, one `START SIZE name` line per piece of JIT or
/// interpreter code, hex with or without `0x`), as copied into a session: names code that no
/// module holds.
///
/// Node writes it with `--perf-basic-prof-only-functions`, BEAM with `+JPperf true`, CPython 3.12+
/// with `-X perf`, a JVM through a perf-map agent. Code is reused: when entries overlap, the one
/// written last names the address.
public struct PerfMap: Sendable {
    private struct Entry {
        var start: UInt64
        var end: UInt64
        var order: Int
        var name: Substring
    }

    /// Entries by start address; `order` says which was written later.
    private let entries: [Entry]
    /// The longest entry, bounding how far back a lookup scans.
    private let longest: UInt64

    /// Where a session keeps its copy of process `pid`'s perf map.
    public static func path(in session: String, pid: Int32) -> String { Path.join(session, "perf-\(pid).map") }

    /// Parses the text of a perf map; malformed lines are skipped.
    public init(text: String) {
        var entries: [Entry] = []
        for (order, line) in text.split(separator: "\n").enumerated() {
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard fields.count == 3, let start = Self.hex(fields[0]), let size = Self.hex(fields[1]), size > 0,
                start <= UInt64.max - size
            else { continue }
            entries.append(Entry(start: start, end: start + size, order: order, name: fields[2]))
        }
        entries.sort { ($0.start, $0.order) < ($1.start, $1.order) }
        self.entries = entries
        self.longest = entries.map { $0.end - $0.start }.max() ?? 0
    }

    /// Whether the map names nothing.
    public var isEmpty: Bool { entries.isEmpty }

    /// The frame for an absolute code address, when an entry covers it.
    public func frame(at address: UInt64) -> SourceFrame? {
        // The last entry starting at or before the address, then back while entries could still cover it.
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].start <= address { lo = mid + 1 } else { hi = mid }
        }
        var best: Entry?
        var i = lo - 1
        while i >= 0, address - entries[i].start < longest {
            let e = entries[i]
            if address < e.end, best.map({ e.order > $0.order }) ?? true { best = e }
            i -= 1
        }
        return best.map { Self.sourceFrame(String($0.name)) }
    }

    /// Names as runtimes write them: `JS:*handle /srv/app.js:12:5` (node), `py::handle:/srv/app.py`
    /// (CPython), `$app:handle/2` (BEAM); anything else is kept whole as the function.
    static func sourceFrame(_ name: String) -> SourceFrame {
        var text = Substring(name)
        if let kind = ["JS:", "LazyCompile:", "Function:", "Script:", "Eval:"].first(where: { text.hasPrefix($0) }) {
            // V8: a kind, a tier marker, the function, and its script's url:line:column.
            text = text.dropFirst(kind.count)
            if let marker = text.first, "~*^+-".contains(marker) { text = text.dropFirst() }
            var function = text
            var file: String?
            var line: Int?
            if let space = text.lastIndex(of: " ") {
                function = text[..<space]
                (file, line) = location(text[text.index(after: space)...])
            } else if text.contains(":"), text.contains("/") {
                function = ""
                (file, line) = location(text)
            }
            return SourceFrame(
                runtime: "js", function: function.isEmpty ? "(anonymous)" : String(function), file: file, line: line)
        }
        if text.hasPrefix("py::") {
            let rest = text.dropFirst(4)
            guard let colon = rest.firstIndex(of: ":") else { return SourceFrame(runtime: "python", function: String(rest)) }
            return SourceFrame(
                runtime: "python", function: String(rest[..<colon]), file: String(rest[rest.index(after: colon)...]))
        }
        if text.hasPrefix("$") { return SourceFrame(runtime: "erlang", function: String(text.dropFirst())) }
        return SourceFrame(runtime: "jit", function: name)
    }

    /// `url:line:column` (or `url:line`) as a file without `file://` and a line.
    private static func location(_ text: Substring) -> (String?, Int?) {
        var parts = text.split(separator: ":", omittingEmptySubsequences: false)
        var numbers: [Int] = []
        while let last = parts.last, let n = Int(last), numbers.count < 2 {
            numbers.insert(n, at: 0)
            parts.removeLast()
        }
        var file = parts.joined(separator: ":")
        if file.hasPrefix("file://") { file = String(file.dropFirst(7)) }
        return (file.isEmpty ? nil : file, numbers.first)
    }

    private static func hex(_ text: Substring) -> UInt64? {
        UInt64(text.hasPrefix("0x") || text.hasPrefix("0X") ? text.dropFirst(2) : text, radix: 16)
    }
}
