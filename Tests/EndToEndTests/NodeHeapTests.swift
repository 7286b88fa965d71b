import Foundation
import MemdriftCore
import MemdriftRecording
import Testing

extension Tag {
    /// Runs real programs for seconds; a quick loop skips them (`swift test --skip NodeHeapTests`).
    @Tag static var slow: Self
}

/// The node binary and the example programs in Examples/node-service.
enum NodeService {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Examples/node-service").standardizedFileURL.resolvingSymlinksInPath().path

    static func script(_ name: String) -> String { directory + "/" + name }

    /// `node` from PATH; the tests need the real one (scripts/setup.sh installs Debian's nodejs).
    static func node() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where access("\(directory)/node", X_OK) == 0 {
            return "\(directory)/node"
        }
        throw TestFailure("node is not installed: run scripts/setup.sh nodejs")
    }

    /// The 1-based line that declares `function name(` in `script`.
    static func line(of function: String, in script: String) throws -> Int {
        let lines = try String(contentsOfFile: script, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        guard let index = lines.firstIndex(where: { $0.contains("function \(function)(") }) else {
            throw TestFailure("no function \(function) in \(script)")
        }
        return index + 1
    }
}

/// A session directory with the Node.js probe installed, and the environment that makes node load it.
struct ProbedSession {
    let path: String
    let environment: [String: String]

    init(interval milliseconds: Int = 200, nodeOptions: String? = nil, name: String = "session") throws {
        path = try scratchDirectory() + "/" + name
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        var environment = ["MEMDRIFT_OUTPUT": path, "MEMDRIFT_INTERVAL_MS": String(milliseconds)]
        if let nodeOptions { environment["NODE_OPTIONS"] = nodeOptions }
        self.environment = environment.merging(try NodeHeapProbe.install(sessionPath: path, environment: environment)) { $1 }
    }

    /// The samples of every series, checked to have been read without warnings.
    func samples() -> [(series: JSHeapSeries, samples: [JSHeapSample])] {
        JSHeapSeries.list(sessionPath: path).map { series in
            let (samples, warnings) = JSHeapSamples.read(directory: series.path)
            #expect(warnings.isEmpty, "\(warnings)")
            return (series, samples)
        }
    }
}

extension JSHeapSample {
    /// Live bytes of the call sites whose leaf is `function`.
    func liveBytes(leaf function: String) -> Int64 {
        sites.filter { $0.site.frames.first.map { $0.function == function } ?? false }.reduce(0) { $0 + $1.counters.liveBytes }
    }
}

extension CallFrame {
    var function: String? {
        if case .source(let frame) = self { return frame.function }
        return nil
    }

    var sourceFrame: SourceFrame? {
        if case .source(let frame) = self { return frame }
        return nil
    }
}

/// The call site whose live bytes grew most from `first` to `last`, and by how much.
func topGrower(from first: JSHeapSample, to last: JSHeapSample) -> (site: CallSite, growth: Int64)? {
    var before: [CallSite: Int64] = [:]
    for (site, counters) in first.sites { before[site] = counters.liveBytes }
    return last.sites.map { (site: $0.site, growth: $0.counters.liveBytes - (before[$0.site] ?? 0)) }.max {
        $0.growth < $1.growth
    }
}

func monotonicNow() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

@Suite(.tags(.slow)) struct NodeHeapTests {
    @Test func theKeepingFunctionGrowsAndIsTheTopGrowerWithItsFileAndLine() throws {
        let node = try NodeService.node(), app = NodeService.script("app.js")
        let session = try ProbedSession()
        let start = monotonicNow(), startWall = UInt64(Date().timeIntervalSince1970 * 1000) * 1_000_000
        let outcome = try launch(node, [app, "leak", "100"], environment: session.environment)
        let end = monotonicNow(), endWall = UInt64(Date().timeIntervalSince1970 * 1000 + 1) * 1_000_000
        #expect(outcome.status == 0 && outcome.stdoutText == "served 50000 sessions, kept 10000\n" && outcome.stderr.isEmpty)

        let all = session.samples()
        #expect(all.count == 1)
        let (series, samples) = try #require(all.first)
        #expect(series.name == "js-\(series.pid)" && series.threadID == 0)
        #expect(samples.first?.reason == .start && samples.last?.reason == .exit)
        #expect(samples.map(\.sequence) == (0..<samples.count).map { UInt64($0 + 1) })
        for sample in samples {
            #expect(sample.pid == series.pid && sample.samplingInterval == UInt64(NodeHeapProbe.samplingInterval))
            // process.hrtime is CLOCK_MONOTONIC: the same clock the test reads around the run.
            #expect(start < sample.monotonicNanos && sample.monotonicNanos < end)
            #expect(startWall <= sample.wallClockNanos && sample.wallClockNanos <= endWall)
            #expect(sample.memory.rss > 0 && sample.memory.heapUsed > 0 && sample.memory.heapTotal >= sample.memory.heapUsed)
            let padded = String(repeating: "0", count: 20 - String(sample.monotonicNanos).count) + String(sample.monotonicNanos)
            #expect(sample.path == "\(series.path)/heap-\(padded).json")
            #expect(try mode(of: sample.path) == 0o600)
        }
        #expect(zip(samples, samples.dropFirst()).allSatisfy { $0.monotonicNanos < $1.monotonicNanos })
        #expect(try mode(of: series.path) == 0o700)
        #expect(try FileManager.default.contentsOfDirectory(atPath: series.path).allSatisfy { !$0.hasPrefix(".") })

        // The kept records grow: sampled objects leave the profile only when collected. A sample
        // can move to another node when V8 recompiles the code around it (the leaf changes under
        // inlining), so a step may dip by a few percent, never more.
        let periodic = samples.filter { $0.reason == .interval }
        #expect(periodic.count >= 5)
        let kept = periodic.map { $0.liveBytes(leaf: "rememberSession") }
        #expect(zip(kept, kept.dropFirst()).allSatisfy { Double($1) >= 0.95 * Double($0) }, "\(kept)")
        let first = try #require(periodic.first), last = try #require(periodic.last)
        #expect(kept[kept.count - 1] - kept[0] > 2 << 20, "\(kept)")

        let top = try #require(topGrower(from: first, to: last))
        let line = try NodeService.line(of: "rememberSession", in: app)
        #expect(
            top.site.frames.first?.sourceFrame == SourceFrame(runtime: "js", function: "rememberSession", file: app, line: line))
        let program = top.site.frames.compactMap(\.sourceFrame).first { !JSHeapSamples.isRuntimeFrame($0) }
        #expect(program?.function == "rememberSession")
        // The exit sample still names the file and line, though the module's code may be garbage by then.
        #expect(samples.last?.sites.contains { $0.site == top.site } == true)
    }

    @Test func theSteadyModeDoesNotGrow() throws {
        let node = try NodeService.node(), app = NodeService.script("app.js")
        let session = try ProbedSession()
        let outcome = try launch(node, [app, "steady", "100"], environment: session.environment)
        #expect(outcome.status == 0 && outcome.stdoutText == "served 50000 sessions, kept 0\n")
        let samples = try #require(session.samples().first?.samples)
        #expect(samples.filter { $0.reason == .interval }.count >= 5)
        for sample in samples {
            #expect(sample.liveBytes(leaf: "rememberSession") == 0)
            let program = sample.sites.filter { $0.site.frames.contains { $0.sourceFrame?.file == app } }
            #expect(program.reduce(0) { $0 + $1.counters.liveBytes } < 512 << 10, "\(program)")
        }
    }

    @Test(arguments: ["exit-3", "sigterm", "uncaught"])
    func outputAndExitStatusAreUntouched(mode: String) throws {
        let node = try NodeService.node(), script = NodeService.script("behaviours.js")
        let plain = try launch(node, [script, mode])
        let session = try ProbedSession(interval: 100)
        let probed = try launch(node, [script, mode], environment: session.environment)
        #expect(plain.status == ["exit-3": 3, "sigterm": 0, "uncaught": 1][mode])
        #expect(probed.status == plain.status)
        #expect(probed.stdout == plain.stdout)
        #expect(probed.stderr == plain.stderr, "\(probed.stderrText)")
        let samples = try #require(session.samples().first?.samples)
        #expect(samples.count >= 3 && samples.last?.reason == .exit)
    }

    @Test func theUsersNodeOptionsAreKeptAndQuotedPathsWork() throws {
        let node = try NodeService.node()
        let hooks = try scratchDirectory() + "/user hooks"
        try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
        try Data("process.stdout.write('hook saw ' + process.title + '\\n');\n".utf8)
            .write(to: URL(fileURLWithPath: "\(hooks)/say title.js"))
        let options = "--title=kept-title --require \"\(hooks)/say title.js\""
        let plain = try launch(node, ["-e", "console.log('main')"], environment: ["NODE_OPTIONS": options])
        // A session path with a space, a double quote and a backslash in it.
        let session = try ProbedSession(nodeOptions: options, name: "a \"session\" \\ here")
        #expect(session.environment["NODE_OPTIONS"]?.hasPrefix(options + " --require ") == true)
        let probed = try launch(node, ["-e", "console.log('main')"], environment: session.environment)
        #expect(plain.stdoutText == "hook saw kept-title\nmain\n")
        #expect(probed.stdout == plain.stdout && probed.stderr == plain.stderr && probed.status == 0)
        #expect(session.samples().first?.samples.last?.reason == .exit)
    }

    @Test func childProcessesAndWorkerThreadsGetTheirOwnSeries() throws {
        let node = try NodeService.node()
        let session = try ProbedSession(interval: 100)
        let outcome = try launch(node, [NodeService.script("family.js")], environment: session.environment)
        #expect(outcome.status == 0 && outcome.stdoutText == "parent kept 100000, child 100000, worker 100000\n")
        let all = session.samples()
        try #require(all.count == 3, "\(all.map(\.series.name))")
        let worker = try #require(all.first { $0.series.threadID != 0 })
        let parent = try #require(all.first { $0.series.threadID == 0 && $0.series.pid == worker.series.pid })
        let child = try #require(all.first { $0.series.pid != worker.series.pid })
        #expect(child.samples.allSatisfy { $0.parentPID == parent.series.pid })
        #expect(
            worker.series.pid == parent.series.pid
                && worker.series.name == "js-\(parent.series.pid)-worker-\(worker.series.threadID)")
        #expect(worker.samples.allSatisfy { $0.threadID == worker.series.threadID })
        for (series, keeper) in [(parent, "keepInParent"), (child, "keepInChild"), (worker, "keepInWorker")] {
            let last = try #require(series.samples.last)
            #expect(last.reason == .exit, "\(series.series.name)")
            #expect(last.sites.first?.site.frames.first?.function == keeper, "\(series.series.name)")
        }
    }

    @Test func aBusyInspectorIsLeftAloneWithOneLine() throws {
        let node = try NodeService.node()
        let session = try ProbedSession()
        let probed = try launch(
            node, ["--inspect=127.0.0.1:0", "-e", "setTimeout(() => console.log('done'), 300)"], environment: session.environment)
        #expect(probed.status == 0 && probed.stdoutText == "done\n")
        let ours = probed.stderrText.split(separator: "\n").filter { $0.hasPrefix("memdrift") }
        #expect(ours.count == 1 && ours.first?.hasPrefix("memdrift: js heap probe: the inspector is in use") == true)
        #expect(session.samples().isEmpty)
    }

    @Test func aNodeWithoutInspectorAndAnUnwritableSessionCostOneLineEach() throws {
        let node = try NodeService.node(), script = NodeService.script("behaviours.js")
        // What node says when it was built without the inspector, from a hook the user loads first.
        let hook = try scratchDirectory() + "/no-inspector.js"
        try Data(
            """
            const Module = require('module');
            const load = Module._load;
            Module._load = function (request, ...rest) {
                if (request === 'inspector' || request === 'node:inspector') {
                    const error = new Error('Inspector is not available');
                    error.code = 'ERR_INSPECTOR_NOT_AVAILABLE';
                    throw error;
                }
                return load.call(this, request, ...rest);
            };

            """.utf8
        ).write(to: URL(fileURLWithPath: hook))
        let plain = try launch(node, [script, "exit-3"], environment: ["NODE_OPTIONS": "--require \(hook)"])
        let session = try ProbedSession(nodeOptions: "--require \(hook)")
        let without = try launch(node, [script, "exit-3"], environment: session.environment)
        #expect(without.status == 3 && without.stdout == plain.stdout)
        #expect(
            without.stderrText == "memdrift: js heap probe: this node has no inspector (ERR_INSPECTOR_NOT_AVAILABLE); "
                + "the JavaScript heap is not recorded\n" + plain.stderrText)
        #expect(without.stderrText.components(separatedBy: "memdrift:").count == 2)
        #expect(session.samples().isEmpty)

        // Every sample fails (start, intervals, exit): one line, and the exit status is the program's.
        var unwritable = try ProbedSession(interval: 100).environment
        unwritable["MEMDRIFT_OUTPUT"] = try scratchDirectory() + "/removed/session"
        let failing = try launch(node, [script, "exit-3"], environment: unwritable)
        let reference = try launch(node, [script, "exit-3"])
        #expect(failing.status == 3 && failing.stdout == reference.stdout)
        let lines = failing.stderrText.split(separator: "\n")
        #expect(
            lines.filter { $0.hasPrefix("memdrift: js heap probe: cannot record a sample:") }.count == 1, "\(failing.stderrText)")
        #expect(lines.filter { !$0.hasPrefix("memdrift") }.joined(separator: "\n") + "\n" == reference.stderrText)
    }

    /// Buffers are malloc'd: the tracker's stack runs through JIT code, which node's perf map names.
    @Test func aFunctionLeakingBuffersIsNamedFromThePerfMap() throws {
        let node = try NodeService.node(), script = NodeService.script("buffers.js")
        let (outcome, session) = try record([node, script, "60"], flags: ["-q", "--interval", "250ms"])
        #expect(outcome.status == 0 && outcome.stdoutText == "built 12000 buffers, kept 2400\n", "\(outcome.stderrText)")
        let report = try launch(Built.memdrift, ["report", "--json", session])
        let json = try #require(try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any])
        let process = try #require((json["processes"] as? [[String: Any]])?.first { $0["command"] as? String != nil })
        #expect(process["verdict"] as? String == "leak")
        let suspect = try #require((process["suspects"] as? [[String: Any]])?.first)
        #expect(suspect["metric"] as? String == "heap.malloc")
        #expect((suspect["growth_bytes"] as? Int ?? 0) > 8 << 20)
        let frame = try #require((suspect["frames"] as? [[String: Any]])?.first)
        // Once V8's optimizing compiler inlines keepBuffer into its caller, the code is tick's
        // (docs/runtimes.md): either way the leak is named in the program's own file.
        let function = frame["function"] as? String
        #expect(function == "keepBuffer" || function == "tick", "\(frame)")
        #expect(frame["file"] as? String == script)
        #expect(frame["line"] as? Int == (try NodeService.line(of: function ?? "keepBuffer", in: script)))
    }

    @Test func memdriftRunRecordsTheJavaScriptHeapBesideTheTracker() throws {
        let node = try NodeService.node(), app = NodeService.script("app.js")
        let (outcome, session) = try record([node, app, "leak", "60"], flags: ["-q", "--interval", "250ms"])
        #expect(outcome.status == 0 && outcome.stdoutText == "served 30000 sessions, kept 6000\n", "\(outcome.stderrText)")
        #expect(FileManager.default.fileExists(atPath: "\(session)/\(NodeHeapProbe.directoryName)/\(NodeHeapProbe.fileName)"))
        let tracked = try Session.open(session).series
        let series = JSHeapSeries.list(sessionPath: session)
        try #require(series.count == 1)
        #expect(tracked.map(\.pid).contains(series[0].pid))
        let (samples, warnings) = JSHeapSamples.read(directory: series[0].path)
        #expect(warnings.isEmpty)
        let periodic = samples.filter { $0.reason == .interval }
        let first = try #require(periodic.first), last = try #require(periodic.last)
        let top = try #require(topGrower(from: first, to: last))
        #expect(top.site.frames.first?.function == "rememberSession" && top.growth > 1 << 20)

        // The report judges the JavaScript heap beside the tracker's: the leak is named in JavaScript.
        let report = try launch(Built.memdrift, ["report", "--json", session])
        let json = try #require(try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any])
        let process = try #require((json["processes"] as? [[String: Any]])?.first { $0["pid"] as? Int == Int(series[0].pid) })
        #expect(process["verdict"] as? String == "leak")
        #expect((process["sources"] as? [String])?.contains("js heap") == true)
        let suspect = try #require((process["suspects"] as? [[String: Any]])?.first)
        #expect(suspect["metric"] as? String == "js.heap")
        let frame = try #require((suspect["frames"] as? [[String: Any]])?.first)
        #expect(frame["function"] as? String == "rememberSession")
        #expect(frame["file"] as? String == app)
        #expect(frame["line"] as? Int == (try NodeService.line(of: "rememberSession", in: app)))
    }
}

func mode(of path: String) throws -> Int {
    var info = stat()
    guard lstat(path, &info) == 0 else { throw TestFailure("cannot stat \(path)") }
    return Int(info.st_mode & 0o7777)
}
