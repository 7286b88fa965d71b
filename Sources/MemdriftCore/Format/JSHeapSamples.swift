import FoundationEssentials
import Glibc

/// What `process.memoryUsage()` reported when a JavaScript heap sample was taken, in bytes.
public struct JSMemoryUsage: Sendable, Hashable {
    /// Resident set size of the whole process (every thread).
    public var rss: UInt64
    /// V8's heap of this isolate: reserved, and in use (live objects and garbage not yet collected).
    public var heapTotal: UInt64
    public var heapUsed: UInt64
    /// Memory of C++ objects bound to JavaScript objects (Buffers, ArrayBuffer backing stores, ...).
    public var external: UInt64
    /// The part of `external` that backs ArrayBuffers and Buffers.
    public var arrayBuffers: UInt64

    /// Creates memory figures.
    public init(rss: UInt64, heapTotal: UInt64, heapUsed: UInt64, external: UInt64, arrayBuffers: UInt64) {
        self.rss = rss
        self.heapTotal = heapTotal
        self.heapUsed = heapUsed
        self.external = external
        self.arrayBuffers = arrayBuffers
    }
}

/// One sample of a V8 isolate's heap as the Node.js probe wrote it: memory figures, and V8's sampling
/// heap profile of live objects by JavaScript call site.
public struct JSHeapSample: Sendable {
    /// The file it was read from.
    public var path: String
    /// CLOCK_MONOTONIC when it was taken, ns (comparable with the tracker's snapshots).
    public var monotonicNanos: UInt64
    /// When it was taken, ns since the Unix epoch (millisecond resolution).
    public var wallClockNanos: UInt64
    /// `start`, `interval`, `request` or `exit`.
    public var reason: SampleReason
    public var pid: Int32
    public var parentPID: Int32
    /// The worker thread's threadId; 0 for the main thread.
    public var threadID: Int
    /// 1, 2, ... within the series.
    public var sequence: UInt64
    public var memory: JSMemoryUsage
    /// V8's mean bytes between sampled allocations.
    public var samplingInterval: UInt64
    /// Each call site's live objects, largest first: `liveBytes` is V8's estimate of the live bytes allocated
    /// by exactly that stack (scaled up from its samples), `liveCount` the number of live sampled objects
    /// behind the estimate, not an object count. Frames are leaf first, runtime `js`.
    public var sites: [(site: CallSite, counters: SiteCounters)]

    /// V8's estimate of all live bytes the profile attributes (excluding the probe's own).
    public var sampledLiveBytes: Int64 { sites.reduce(0) { $0 + $1.counters.liveBytes } }
}

/// Reads the JavaScript heap samples of a session (`js-*` directories of `heap-<ns>.json` files).
public enum JSHeapSamples {
    /// The schema every sample file names.
    public static let schema = "memdrift.js-heap/1"
    /// Files larger than this are refused as damaged rather than read into memory.
    static let largestFile = 512 << 20

    /// Every sample of one series directory in time order; a file that cannot be read is skipped with
    /// a one-line warning naming it.
    public static func read(directory: String) -> ([JSHeapSample], warnings: [String]) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            return ([], warnings: ["cannot read \(directory): cannot list the directory"])
        }
        let files = names.compactMap { name in sampleTime(fileName: name).map { ($0, name) } }.sorted { $0.0 < $1.0 }
        var samples: [JSHeapSample] = []
        var warnings: [String] = []
        for (_, name) in files {
            do {
                samples.append(try read(file: Path.join(directory, name)))
            } catch {
                warnings.append(error.description)
            }
        }
        return (samples, warnings: warnings)
    }

    /// Reads one sample file (never through a symlink).
    public static func read(file path: String) throws(FormatError) -> JSHeapSample {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        guard Int(info.st_size) <= largestFile else {
            throw .unreadable(path: path, reason: "damaged JS heap sample: \(info.st_size) bytes")
        }
        guard let bytes = readUpTo(Int(info.st_size), from: fd, at: 0) else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        if bytes.isEmpty { throw .empty(path: path) }
        return try decode(bytes, path: path)
    }

    /// Decodes the bytes of a sample file.
    static func decode(_ bytes: [UInt8], path: String) throws(FormatError) -> JSHeapSample {
        let file: SampleFile
        do {
            file = try JSONDecoder().decode(SampleFile.self, from: Data(bytes))
        } catch {
            throw .unreadable(path: path, reason: "damaged JS heap sample: not the JSON of \(schema)")
        }
        guard file.schema == schema else {
            throw .unreadable(path: path, reason: "schema \(file.schema), this memdrift reads \(schema)")
        }
        let sites: [(site: CallSite, counters: SiteCounters)]
        do {
            sites = try callSites(strings: file.strings, nodes: file.nodes)
        } catch {
            throw .unreadable(path: path, reason: "damaged JS heap sample: \(error.detail)")
        }
        let (wallClockNanos, overflow) = file.wallClockMillis.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow, let pid = Int32(exactly: file.pid), let parentPID = Int32(exactly: file.ppid) else {
            throw .unreadable(path: path, reason: "damaged JS heap sample: a figure is out of range")
        }
        let memory = file.memory
        return JSHeapSample(
            path: path, monotonicNanos: file.monotonicNanos, wallClockNanos: wallClockNanos,
            reason: SampleReason(rawValue: file.reason) ?? .other, pid: pid, parentPID: parentPID,
            threadID: file.threadId, sequence: file.sequence,
            memory: JSMemoryUsage(
                rss: memory.rss, heapTotal: memory.heapTotal, heapUsed: memory.heapUsed, external: memory.external,
                arrayBuffers: memory.arrayBuffers),
            samplingInterval: file.samplingInterval, sites: sites)
    }

    /// Whether a frame is node's or V8's rather than the program's: a builtin, V8's own nodes such as
    /// `(V8 API)`, or one of node's modules (`node:internal/timers`).
    public static func isRuntimeFrame(_ frame: SourceFrame) -> Bool {
        guard let file = frame.file else { return true }
        return file.hasPrefix("node:") || file.hasPrefix("internal/")
    }

    /// The nanoseconds in `heap-<ns>.json`; nil for any other name (temporary dot-names among them).
    static func sampleTime(fileName name: String) -> UInt64? {
        guard name.hasPrefix("heap-"), name.hasSuffix(".json") else { return nil }
        let digits = name.dropFirst(5).dropLast(5)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    /// The call sites of the profile's nodes that hold live bytes: each node's path up to (not including)
    /// V8's `(root)`, leaf first. Nodes that end in the same frames are added together.
    static func callSites(strings: [String], nodes: [[Int64]]) throws(DamagedProfile) -> [(
        site: CallSite, counters: SiteCounters
    )] {
        var frames: [SourceFrame?] = []
        var parents: [Int] = []
        frames.reserveCapacity(nodes.count)
        parents.reserveCapacity(nodes.count)
        var order: [CallSite] = []
        var totals: [CallSite: SiteCounters] = [:]
        for (index, node) in nodes.enumerated() {
            guard node.count == 6 else { throw DamagedProfile(detail: "node \(index) has \(node.count) fields, not 6") }
            let parent = node[0], function = node[1], url = node[2], line = node[3], selfSize = node[4], samples = node[5]
            guard parent >= -1 && parent < Int64(index) else {
                throw DamagedProfile(detail: "node \(index) names node \(parent) as its parent")
            }
            guard function >= 0 && function < Int64(strings.count) && url >= 0 && url < Int64(strings.count) else {
                throw DamagedProfile(detail: "node \(index) names a string that is not in the table")
            }
            guard selfSize >= 0 && samples >= 0 else { throw DamagedProfile(detail: "node \(index) has a negative size") }
            let name = strings[Int(function)], place = strings[Int(url)]
            let isRoot = parent == -1 && name == "(root)" && place.isEmpty
            frames.append(isRoot ? nil : frame(function: name, url: place, lineNumber: line))
            parents.append(Int(parent))
            guard selfSize > 0 || samples > 0 else { continue }

            var stack: [CallFrame] = []
            var at = index
            while at >= 0 {
                if let frame = frames[at] { stack.append(.source(frame)) }
                at = parents[at]
            }
            let site = CallSite(frames: stack)
            var counters = totals[site] ?? .zero
            if totals[site] == nil { order.append(site) }
            counters.liveBytes += selfSize
            counters.liveCount += samples
            totals[site] = counters
        }
        let sites = order.map { (site: $0, counters: totals[$0] ?? .zero) }
        return sites.enumerated().sorted {
            $0.element.counters.liveBytes != $1.element.counters.liveBytes
                ? $0.element.counters.liveBytes > $1.element.counters.liveBytes : $0.offset < $1.offset
        }.map(\.element)
    }

    /// A profile node's frame: `(anonymous)` for an unnamed function, the file without `file://`, 1-based lines.
    static func frame(function: String, url: String, lineNumber: Int64) -> SourceFrame {
        var file: String?
        if url.hasPrefix("file://") {
            file = percentDecoded(String(url.dropFirst(7)))
        } else if !url.isEmpty {
            file = url
        }
        let line = file != nil && lineNumber >= 0 && lineNumber < Int64(Int32.max) ? Int(lineNumber) + 1 : nil
        return SourceFrame(runtime: "js", function: function.isEmpty ? "(anonymous)" : function, file: file, line: line)
    }

    /// `%XX` escapes of a URL path replaced by their bytes; text that is not a valid escape stays as it is.
    static func percentDecoded(_ text: String) -> String {
        guard text.contains("%") else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let high = hexValue(bytes[i + 1]),
                let low = hexValue(bytes[i + 2])
            {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Why a profile's nodes do not form a tree.
    struct DamagedProfile: Error {
        let detail: String
    }

    /// The file as the probe writes it (docs/FORMAT.md).
    private struct SampleFile: Decodable {
        let monotonicNanos: UInt64
        let schema: String
        let pid: Int64
        let ppid: Int64
        let threadId: Int
        let sequence: UInt64
        let reason: String
        let wallClockMillis: UInt64
        let memory: Memory
        let samplingInterval: UInt64
        let strings: [String]
        let nodes: [[Int64]]

        struct Memory: Decodable {
            let rss: UInt64
            let heapTotal: UInt64
            let heapUsed: UInt64
            let external: UInt64
            let arrayBuffers: UInt64
        }
    }
}

/// The JavaScript heap samples of one V8 isolate of one process image: `SESSION/js-<pid>[-worker-<tid>][.<n>]`.
public struct JSHeapSeries: Sendable, Hashable {
    /// The directory name, e.g. `js-4217`, `js-4217-worker-1`, `js-4217.2`.
    public let name: String
    /// The directory.
    public let path: String
    public let pid: Int32
    /// The worker thread's threadId; 0 for the main thread.
    public let threadID: Int
    /// 1 for the first series under its name, then 2, 3, ... for later process images (exec, a reused pid).
    public let image: Int

    /// Every JavaScript heap series of the session at `sessionPath`, ordered by pid, thread, then image.
    public static func list(sessionPath: String) -> [JSHeapSeries] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sessionPath)) ?? []
        return names.compactMap { name in
            parseName(name).map {
                JSHeapSeries(name: name, path: Path.join(sessionPath, name), pid: $0.pid, threadID: $0.threadID, image: $0.image)
            }
        }.sorted { ($0.pid, $0.threadID, $0.image) < ($1.pid, $1.threadID, $1.image) }
    }

    /// Parses `js-<pid>`, `js-<pid>-worker-<tid>`, each optionally followed by `.<n>` (n >= 2).
    static func parseName(_ name: String) -> (pid: Int32, threadID: Int, image: Int)? {
        guard name.hasPrefix("js-") else { return nil }
        var rest = Substring(name.dropFirst(3))
        var image = 1
        if let dot = rest.lastIndex(of: ".") {
            guard let n = Int(rest[rest.index(after: dot)...]), n >= 2 else { return nil }
            image = n
            rest = rest[..<dot]
        }
        var threadID = 0
        let parts = rest.split(separator: "-worker-", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        if parts.count == 2 {
            guard let tid = Int(parts[1]), tid >= 1 else { return nil }
            threadID = tid
            rest = parts[0]
        }
        guard let pid = Int32(rest), pid > 0 else { return nil }
        return (pid, threadID, image)
    }
}
