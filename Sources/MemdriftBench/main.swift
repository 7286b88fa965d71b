// memdrift-bench: micro-benchmarks of memdrift's own stages, driven by scripts/bench.sh.
//   memdrift-bench symbolize N        time to symbolize N distinct addresses (cold caches)
//   memdrift-bench report STACKS SNAPS   time to analyze a synthetic session of that size
import FoundationEssentials
import Glibc
import MemdriftAnalysis
import MemdriftCore
import MemdriftSymbolization

/// Executable ranges of the modules mapped into this process, from /proc/self/maps.
func executableMappings() -> [(path: String, start: UInt64, end: UInt64, offset: UInt64)] {
    guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return [] }
    return maps.split(separator: "\n").compactMap { line in
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count >= 6, f[1].contains("x"), f[5].hasPrefix("/") else { return nil }
        let range = f[0].split(separator: "-")
        guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
            let offset = UInt64(f[2], radix: 16)
        else { return nil }
        return (String(f[5]), start, end, offset)
    }
}

func benchSymbolize(_ count: Int) {
    // Addresses spread evenly over the text of every mapped library: file offsets equal ELF
    // virtual addresses closely enough for these files (their text is mapped at p_offset == p_vaddr).
    let mappings = executableMappings()
    guard !mappings.isEmpty else { fatalError("no executable mappings") }
    let perModule = max(1, count / mappings.count)
    var work: [(String, UInt64)] = []
    for m in mappings {
        let size = m.end - m.start
        for i in 0..<perModule { work.append((m.path, m.offset + size * UInt64(i) / UInt64(perModule) + 1)) }
    }
    let symbolizer = Symbolizer()
    let clock = ContinuousClock()
    var named = 0
    let elapsed = clock.measure {
        for (path, address) in work
        where symbolizer.symbolize(modulePath: path, buildID: [], address: address).first?.function != nil {
            named += 1
        }
    }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(
        "symbolize: \(work.count) distinct addresses in \(mappings.count) modules: \(String(seconds, decimals: 3)) s"
            + " (\(String(seconds * 1e6 / Double(work.count), decimals: 1)) us each), \(named) named")
    for m in Set(mappings.map(\.path)).sorted() { print("  \(m)") }
}

/// $TMPDIR with a trailing slash, else /tmp/.
func temporaryDirectory() -> String {
    guard let directory = ProcessInfo.processInfo.environment["TMPDIR"] else { return "/tmp/" }
    return directory.hasSuffix("/") ? directory : directory + "/"
}

/// Writes a session with `stackCount` call sites over `snapshotCount` snapshots (1 s apart), as the
/// tracker writes format 2: a checkpoint every 360 snapshots and deltas of the stacks that changed
/// in between. 1% leak, 5% fill up and plateau, 5% sawtooth, 20% noisy, the rest constant.
func syntheticSession(stacks stackCount: Int, snapshots snapshotCount: Int) throws -> String {
    let dir = temporaryDirectory() + "memdrift-bench-" + UUID().uuidString
    let series = dir + "/pid-1000"
    try FileManager.default.createDirectory(atPath: series, withIntermediateDirectories: true)
    var rng: UInt64 = 42
    func random() -> Double {
        rng = rng &* 6364136223846793005 &+ 1442695040888963407
        return Double(rng >> 11) / Double(1 << 53)
    }
    let noise = (0..<stackCount).map { _ in random() }
    let modules = [Module(index: 0, base: 0, start: 0, end: 1 << 30, buildID: [1], path: "/nonexistent/synthetic-app")]
    var previous = [UInt64](repeating: UInt64.max, count: stackCount)
    for i in 0..<snapshotCount {
        let t = Double(i + 1)
        let checkpoint = i % 360 == 0
        var stacks: [CallStack] = []
        var heap: UInt64 = 0
        for id in 0..<stackCount {
            let base = 4096.0 * Double(1 + id % 50)
            let value: Double
            switch id % 100 {
            case 0: value = base + 2000 * t
            case 1...5: value = base + 50_000 * min(t, 60)
            case 6...10: value = base + 20_000 * Double(Int(t) % 30)
            case 11...30: value = base * (1 + 0.2 * (random() - 0.5)) + noise[id]
            default: value = base
            }
            let bytes = UInt64(value)
            heap += bytes
            guard checkpoint || bytes != previous[id] else { continue }
            previous[id] = bytes
            var stack = CallStack(
                id: UInt32(id), frames: [], liveBytes: bytes, liveCount: bytes / 64, allocatedBytes: bytes,
                allocatedCount: bytes / 64)
            if checkpoint || i == 0 {
                stack.frames = (0..<6).map { Frame(module: 0, offset: UInt64(0x1000 + id * 64 + $0 * 8)) }
            } else {
                stack.framesDefinedEarlier = true
            }
            stacks.append(stack)
        }
        var figures = ProcessFigures()
        figures[.heapLiveBytes] = heap
        figures[.vmRSS] = heap + 50_000_000
        let ns = UInt64(t * 1e9)
        let header = SnapshotHeader(
            flags: checkpoint ? 0 : 0x8, pid: 1000, sequence: UInt64(i + 1), wallClockNanos: ns, monotonicNanos: ns,
            startWallClockNanos: 0, startMonotonicNanos: 0, intervalNanos: 1_000_000_000)
        let snapshot = Snapshot(
            header: header, executable: "/nonexistent/synthetic-app", commandLine: ["synthetic-app"], figures: figures,
            modules: checkpoint ? modules : [], stacks: stacks)
        let name = SnapshotSeries.fileName(sequence: UInt64(i + 1))
        try Data(SnapshotEncoder.encode(snapshot)).write(to: URL(fileURLWithPath: series + "/" + name))
    }
    return dir
}

func benchReport(stacks: Int, snapshots: Int) throws {
    let clock = ContinuousClock()
    var path = ""
    let generation = try clock.measure { path = try syntheticSession(stacks: stacks, snapshots: snapshots) }
    defer { try? FileManager.default.removeItem(atPath: path) }
    var analysis: SessionAnalysis?
    var timelines: SessionTimelines?
    let reading = try clock.measure { timelines = try TimelineReader.read(path, options: .liveOnly) }
    let judging = clock.measure { analysis = timelines.map { Judge(names: StackSymbolizer()).judge($0) } }
    let elapsed = reading + judging
    let p = analysis?.processes.first
    let size = directorySize(path)
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    print(
        "report: \(stacks) stacks x \(snapshots) snapshots, \(Units.formatBytes(size)) on disk (written in \(generation)): analyzed in \(elapsed) (read \(reading), judged \(judging)), peak RSS \(Units.formatBytes(UInt64(usage.ru_maxrss) * 1024)); verdict \(p?.verdict.rawValue ?? "?"), \(p?.suspects.count ?? 0) suspects shown"
    )
}

let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "symbolize":
    benchSymbolize(Int(arguments.dropFirst().first ?? "") ?? 100_000)
case "report":
    let rest = Array(arguments.dropFirst())
    try benchReport(stacks: Int(rest.first ?? "") ?? 10_000, snapshots: Int(rest.dropFirst().first ?? "") ?? 360)
default:
    StandardError.write("usage: memdrift-bench symbolize N | report STACKS SNAPSHOTS\n")
    exit(2)
}
