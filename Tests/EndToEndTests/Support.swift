import Foundation
import MemdriftCore
import MemdriftTestSupport
import Testing

/// Where the built CLI, tracker and examples are: next to the test bundle.
enum Built {
    static let directory: String = {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = me.deletingLastPathComponent()
        // Inside an .xctest bundle directory the binaries are one level up.
        if dir.path.hasSuffix(".xctest") || dir.path.contains(".xctest/") {
            while dir.path.contains(".xctest") { dir = dir.deletingLastPathComponent() }
        }
        return dir.path
    }()

    static func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
    static var memdrift: String { path("memdrift") }
    static var tracker: String { path("libmemdrift-preload.so") }
}

/// The repository's root (sources, Tests/TrackerC, Examples), found from this file.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
    .standardizedFileURL.path

/// The outcome of a finished process.
struct Outcome {
    var status: Int32
    var stdout: Data
    var stderr: Data
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs a program to completion (killing it after `timeout` seconds, which fails the test).
func launch(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
    timeout: Double = 120
) throws -> Outcome {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let out = "\(dir)/stdout", err = "\(dir)/stderr"
    _ = FileManager.default.createFile(atPath: out, contents: nil)
    _ = FileManager.default.createFile(atPath: err, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
    try process.runWithSignalsUnblocked()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        Issue.record("\(executable) \(arguments) did not finish within \(timeout)s")
    }
    let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    return Outcome(
        status: status, stdout: try Data(contentsOf: URL(fileURLWithPath: out)),
        stderr: try Data(contentsOf: URL(fileURLWithPath: err)))
}

/// Runs `command` under `memdrift run` into a new session directory.
func record(_ command: [String], flags: [String] = ["-q"], timeout: Double = 120) throws -> (Outcome, String) {
    let session = try scratchDirectory() + "/session"
    let outcome = try launch(Built.memdrift, ["run", "-o", session] + flags + ["--"] + command, timeout: timeout)
    return (outcome, session)
}

func scratchDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "memdrift-e2e-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The `name=number` fields of a checker's log (one line a process), summed by name; empty when
/// there is no log.
func summedFields(ofLog path: String) -> [String: Int] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    var sums: [String: Int] = [:]
    for field in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
        let parts = field.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let value = Int(parts[1]) else { continue }
        sums[String(parts[0]), default: 0] += value
    }
    return sums
}

/// A function's [start, end) in an executable, from `nm -S`.
func symbolRange(_ name: String, in binary: String) throws -> Range<UInt64> {
    let outcome = try launch("/usr/bin/nm", ["-S", "--defined-only", binary])
    for line in outcome.stdoutText.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count == 4, fields[3] == name, let start = UInt64(fields[0], radix: 16),
            let size = UInt64(fields[1], radix: 16)
        else { continue }
        return start..<start + size
    }
    throw TestFailure("no symbol \(name) in \(binary)")
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Snapshot {
    /// The stacks whose leaf frame lies in `range` of the module named `module`.
    func stacks(withLeafIn range: Range<UInt64>, module: String) -> [CallStack] {
        stacks.filter { s in
            guard let leaf = s.frames.first, let m = self.module(of: leaf) else { return false }
            return m.name == module && range.contains(leaf.offset)
        }
    }
}

/// The call site of the main process whose live bytes grew most from its first to its last sample.
func topGrower(in session: String, pid: Int32? = nil) throws -> (site: CallSite, growth: Int64, timeline: ProcessTimeline) {
    let timelines = try TimelineReader.read(session)
    let t = try #require(
        pid.flatMap { p in timelines.processes.first { $0.pid == p } }
            ?? timelines.processes.min { $0.startWallClockNanos < $1.startWallClockNanos })
    let heap = try #require(t.attributed[.heapMalloc])
    let last = t.samples.count - 1
    var best: (CallSite, Int64)?
    for (i, history) in heap.histories.enumerated() {
        let growth = history.counters(at: last).liveBytes - history.counters(at: 0).liveBytes
        if best == nil || growth > best!.1 { best = (heap.sites[i], growth) }
    }
    let (site, growth) = try #require(best)
    return (site, growth, t)
}

extension CallSite {
    /// The leaf frame's module name and offset, for native frames.
    var nativeLeaf: NativeFrame? {
        guard case .native(let f)? = frames.first else { return nil }
        return f
    }
}
