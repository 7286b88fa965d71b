import Foundation
import MemdriftCore
import MemdriftTestSupport
import Testing

/// A free TCP port on the loopback interface (closed again: the program binds it next).
private func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw TestFailure("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// `report --json` of a session, and its first process.
private func judged(_ session: String) throws -> [String: Any] {
    let outcome = try launch(Built.memdrift, ["report", "--json", session])
    #expect(outcome.status == 0, "\(outcome.stderrText)")
    let json = try #require(try JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any])
    return try #require((json["processes"] as? [[String: Any]])?.first)
}

private func firstSuspect(_ p: [String: Any]) -> (metric: String?, function: String?) {
    let suspect = (p["suspects"] as? [[String: Any]])?.first
    return (suspect?["metric"] as? String, ((suspect?["frames"] as? [[String: Any]])?.first)?["function"] as? String)
}

/// No call site of any process ever shows a leak with negative growth.
private func expectNoNegativeLeaks(_ p: [String: Any]) {
    for s in (p["suspects"] as? [[String: Any]]) ?? [] {
        #expect((s["growth_bytes"] as? Int ?? -1) >= 0 && (s["growth_count"] as? Int ?? -1) >= 0, "\(s)")
    }
}

/// Real runtimes, installed by the scripts from Debian: each gets a series, a verdict that is not
/// misleading, and never a suspect with negative growth.
@Suite(.serialized, .tags(.slow)) struct RuntimeTests {
    /// A static Go binary: no tracker, so /proc gives its RSS; with --pprof-url, Go's own heap profile
    /// names the function that keeps the sessions.
    @Test(.enabled(if: goCommand != nil, "go is not installed (scripts/test.sh installs golang-go)"))
    func aStaticGoServiceIsJudgedOnItsOwnHeap() throws {
        let binary = try goService.get()
        let port = try freePort()
        let url = "http://127.0.0.1:\(port)/debug/pprof/heap"
        let (outcome, session) = try record(
            [binary, "-addr", "127.0.0.1:\(port)", "-duration", "20s"], flags: ["-q", "--interval", "1s", "--pprof-url", url])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let p = try judged(session)
        #expect(p["verdict"] as? String == "leak", "\(p["reason"] ?? "")")
        #expect(p["sources"] as? [String] == ["/proc", "go heap"])
        #expect(firstSuspect(p).metric == "go.inuse" && firstSuspect(p).function == "main.rememberSession")
        expectNoNegativeLeaks(p)

        // Without the profile, only RSS is known: growth, and nothing named.
        let (_, plain) = try record([binary, "-addr", "127.0.0.1:0", "-duration", "10s"], flags: ["-q", "--interval", "1s"])
        let q = try judged(plain)
        #expect(q["verdict"] as? String == "growth")
        #expect(q["heap"] is NSNull && (q["suspects"] as? [Any])?.isEmpty == true)
    }

    @Test(.enabled(if: goCommand != nil, "go is not installed (scripts/test.sh installs golang-go)"))
    func watchFetchesTheGoHeapOfARunningService() throws {
        let binary = try goService.get()
        let port = try freePort()
        let service = Process()
        service.executableURL = URL(fileURLWithPath: binary)
        service.arguments = ["-addr", "127.0.0.1:\(port)", "-duration", "30s"]
        service.standardOutput = FileHandle.nullDevice
        try service.run()
        defer {
            service.terminate()
            service.waitUntilExit()
        }
        usleep(300_000)
        let session = try scratchDirectory() + "/session"
        let outcome = try launch(
            Built.memdrift,
            [
                "watch", String(service.processIdentifier), "--interval", "1s", "--duration", "10s", "-o", session, "--pprof-url",
                "http://127.0.0.1:\(port)/debug/pprof/heap",
            ])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let p = try judged(session)
        #expect(p["verdict"] as? String == "leak")
        #expect(firstSuspect(p).function == "main.rememberSession")
    }

    /// CPython with its default allocator: pymalloc's arenas are mapped memory, named, and the
    /// verdict is a leak; never a negative malloc site.
    @Test func cpythonWithItsDefaultAllocator() throws {
        let script = """
            import time
            keep = []
            end = time.time() + 10
            while time.time() < end:
                for i in range(2000):
                    s = {"id": i, "data": "x" * 100}
                    if i % 5 == 0:
                        keep.append(s)
                time.sleep(0.05)
            """
        let (outcome, session) = try record(["/usr/bin/python3", "-c", script], flags: ["-q", "--interval", "500ms"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let p = try judged(session)
        #expect(p["verdict"] as? String == "leak")
        expectNoNegativeLeaks(p)
        let explained = try #require((p["rss_explained"] as? [String: Any])?["explained_fraction"] as? Double)
        #expect(explained > 0.5)
    }

    /// An interpreter's shutdown frees what the run kept, slowly here (finalizers that sleep: the
    /// heap stands still, then drops): no periodic snapshot is taken during it, so the growth is not
    /// taken for a plateau (with those snapshots the verdict was `stable`, the heap `bounded`).
    @Test func cpythonShutdownTakesNoPeriodicSnapshots() throws {
        let script = """
            import time
            class Held:
                def __init__(self):
                    self.data = bytearray(1 << 20)
                def __del__(self):
                    time.sleep(0.02)
            keep = []
            for i in range(60):
                keep.append(Held())
                time.sleep(0.05)
            """
        let (outcome, session) = try record(["/usr/bin/python3", "-c", script], flags: ["-q", "--interval", "200ms"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let p = try judged(session)
        // 60 MiB kept; the teardown (60 x 20 ms) spans several intervals.
        let end = try #require((p["heap"] as? [String: Any])?["end_bytes"] as? Int)
        #expect(end > 50 << 20, "\(p["heap"] ?? "")")
        #expect(p["verdict"] as? String == "leak")
    }

    /// An Erlang node keeping entries in an ETS table: BEAM's carriers are mapped memory. It keeps
    /// growing for 20 s: on a loaded machine erl takes seconds to start, and a run that is flat for a
    /// third of its length before a short rise is not a significant trend (docs/verdict.md).
    @Test func anErlangNodeGrowingAnETSTable() throws {
        let dir = try scratchDirectory()
        try """
        -module(keeper).
        -export([main/0]).
        main() -> T = ets:new(sessions, [set, public]), loop(T, 0, erlang:monotonic_time(millisecond)).
        keep(T, N) -> ets:insert(T, {N, lists:duplicate(50, N)}).
        loop(T, N, T0) ->
            case erlang:monotonic_time(millisecond) - T0 > 20000 of
                true -> halt(0);
                false -> [keep(T, N + I) || I <- lists:seq(0, 199)], timer:sleep(20), loop(T, N + 200, T0)
            end.
        """.write(toFile: dir + "/keeper.erl", atomically: true, encoding: .utf8)
        let compiled = try launch("/usr/bin/erlc", ["-o", dir, dir + "/keeper.erl"])
        try #require(compiled.status == 0, "erlc: \(compiled.stderrText)")
        let (outcome, session) = try record(
            ["/usr/bin/erl", "-noshell", "-pa", dir, "-s", "keeper", "main"], flags: ["-q", "--interval", "500ms"])
        #expect(outcome.status == 0, "\(outcome.stderrText)")
        let analysis = try launch(Built.memdrift, ["report", "--json", session])
        let json = try #require(try JSONSerialization.jsonObject(with: analysis.stdout) as? [String: Any])
        let processes = try #require(json["processes"] as? [[String: Any]])
        let beam = try #require(processes.first { ($0["command"] as? String)?.contains("beam.smp") == true })
        #expect(["leak", "growth"].contains(beam["verdict"] as? String))
        #expect((beam["sources"] as? [String])?.contains("tracker mapped") == true)
        for p in processes { expectNoNegativeLeaks(p) }
    }
}
