import Foundation
import MemdriftExport

/// Realistic report data for tests and for the demo file the browser check renders.
enum HTMLReportSamples {
    private static let KiB = 1024.0
    private static let MiB = 1024.0 * 1024.0

    /// A frame whose value is its own bytes plus its children's, as the report expects.
    static func frame(_ name: String, own: Int64 = 0, _ children: [HTMLReportData.FlameNode] = [])
        -> HTMLReportData.FlameNode
    {
        HTMLReportData.FlameNode(name: name, value: own + children.reduce(0) { $0 + $1.value }, children: children)
    }

    /// Least-squares line through the points at or after `from`, as (intercept, slope).
    static func fit(times: [Double], values: [Double], from: Double) -> (Double, Double) {
        let pairs = zip(times, values).filter { $0.0 >= from }
        let n = Double(pairs.count)
        let mt = pairs.reduce(0) { $0 + $1.0 } / n
        let mv = pairs.reduce(0) { $0 + $1.1 } / n
        let sxy = pairs.reduce(0) { $0 + ($1.0 - mt) * ($1.1 - mv) }
        let sxx = pairs.reduce(0) { $0 + ($1.0 - mt) * ($1.0 - mt) }
        let slope = sxx > 0 ? sxy / sxx : 0
        return (mv - slope * mt, slope)
    }

    /// Frames from "function (file:line)" text, as the symbolizer would have given them.
    static func frames(_ names: [String]) -> [HTMLReportData.Frame] {
        names.map { name in
            guard name.hasSuffix(")"), let open = name.ranges(of: " (").last else { return HTMLReportData.Frame(function: name) }
            return HTMLReportData.Frame(
                function: String(name[..<open.lowerBound]), location: String(name[open.upperBound...].dropLast()))
        }
    }

    /// A leaking C++ server with a bounded cache and a Swift collector thread, plus a stable worker.
    static func demo() -> HTMLReportData {
        HTMLReportData(
            title: "memdrift report: leaky-server", session: "/var/tmp/memdrift/session-20250114-0930",
            verdict: "leak", generatedAt: "2025-01-14 09:41:12 UTC",
            processes: [leakyServer(), stableWorker()])
    }

    private static func leakyServer() -> HTMLReportData.Process {
        let warmup = 60.0
        let times = (0..<60).map { Double($0) * 10 }
        let heap = times.map { t -> Double in
            let startup = 6 * MiB + 30 * MiB * (1 - exp(-t / 18))
            let after = max(0, t - warmup)
            let leak = 64 * KiB * after
            let cache = 12 * MiB * (1 - exp(-after / 90))
            let noise = 1.4 * MiB * sin(t * 0.37) + 0.6 * MiB * cos(t * 0.11)
            return (startup + leak + cache + noise).rounded()
        }
        // RSS follows the heap in 4 MiB steps: the allocator maps arenas in chunks and rarely returns them.
        let rss = heap.map { ((($0 * 1.08 + 22 * MiB) / (4 * MiB)).rounded(.up) * 4 * MiB) }
        let (intercept, slope) = fit(times: times, values: heap, from: warmup)

        let leakFrames = [
            "operator new(unsigned long) (new_op.cc:50)",
            "std::vector<std::unique_ptr<Session, std::default_delete<Session>>, std::allocator<std::unique_ptr<Session, std::default_delete<Session>>>>::_M_realloc_insert<std::unique_ptr<Session, std::default_delete<Session>>> (stl_vector.h:1287)",
            "SessionRegistry::track(std::unique_ptr<Session, std::default_delete<Session>>) (registry.cpp:88)",
            "Server::handleConnection(int, sockaddr_in const&) (server.cpp:214)",
            "Server::run() (server.cpp:97)",
            "main (main.cpp:31)",
        ]
        let cacheFrames = [
            "operator new(unsigned long) (new_op.cc:50)",
            "LRUCache<std::string, Blob, std::hash<std::string>>::insert(std::string const&, Blob&&) (lru_cache.hpp:142)",
            "ThumbnailService::render(Request const&) (thumbnails.cpp:61)",
            "Server::handleConnection(int, sockaddr_in const&) (server.cpp:231)",
        ]
        let swiftFrames = [
            "swift_allocObject (HeapObject.cpp:158)",
            "MetricsStore.record(_:at:) (MetricsStore.swift:57)",
            "Collector.tick() (Collector.swift:88)",
            "closure #1 in Collector.start(interval:) (Collector.swift:112)",
            "start_thread (pthread_create.c:442)",
        ]
        let leaks = [
            HTMLReportData.Suspect(
                classification: "leak", growthBytes: 33_914_880, growthCount: 33_120,
                slopeBytesPerHour: 64 * KiB * 3600, frames: frames(leakFrames)),
            HTMLReportData.Suspect(
                classification: "leak", growthBytes: 4_718_592, growthCount: 73_728,
                slopeBytesPerHour: 27 * MiB, frames: frames(swiftFrames)),
        ]
        let others = [
            HTMLReportData.Suspect(
                classification: "bounded", growthBytes: 12_058_624, growthCount: 2_944,
                slopeBytesPerHour: 1.1 * MiB, frames: frames(cacheFrames))
        ]

        let flame = frame(
            "all growth",
            [
                frame(
                    "main",
                    [
                        frame(
                            "Server::run()",
                            [
                                frame(
                                    "Server::handleConnection(int, sockaddr_in const&)",
                                    [
                                        frame(
                                            "SessionRegistry::track(std::unique_ptr<Session, std::default_delete<Session>>)",
                                            [
                                                frame(
                                                    "std::vector<std::unique_ptr<Session>>::_M_realloc_insert",
                                                    [frame("operator new(unsigned long)", own: 26_214_400)]),
                                                frame(
                                                    "Session::Session(int)",
                                                    [
                                                        frame(
                                                            "std::__cxx11::basic_string<char>::_M_create(unsigned long&, unsigned long)",
                                                            own: 7_700_480)
                                                    ]),
                                            ]),
                                        frame(
                                            "ThumbnailService::render(Request const&)",
                                            [
                                                frame(
                                                    "LRUCache<std::string, Blob, std::hash<std::string>>::insert(std::string const&, Blob&&)",
                                                    [frame("operator new(unsigned long)", own: 9_437_184)]),
                                                frame("Blob::Blob(unsigned long)", own: 2_621_440),
                                            ]),
                                        frame(
                                            "HttpParser::parse(std::string_view)",
                                            [
                                                frame(
                                                    "std::map<std::string, std::string>::operator[](std::string const&)",
                                                    own: 786_432)
                                            ]),
                                    ]),
                                frame(
                                    "Logger::flush()",
                                    [frame("fmt::v10::detail::buffer<char>::grow(unsigned long)", own: 524_288)]),
                            ]),
                        frame("Config::load(char const*)", [frame("YAML::Node::Node(YAML::Node const&)", own: 131_072)]),
                    ]),
                frame(
                    "start_thread",
                    [
                        frame(
                            "closure #1 in Collector.start(interval:)",
                            [
                                frame(
                                    "Collector.tick()",
                                    [
                                        frame(
                                            "MetricsStore.record(_:at:)",
                                            [
                                                frame("swift_allocObject", own: 3_407_872),
                                                frame("Swift._ContiguousArrayBuffer._consumeAndCreateNew()", own: 1_310_720),
                                            ]),
                                        frame("Collector.sample() async", [frame("swift_task_alloc", own: 262_144)]),
                                    ])
                            ]),
                        frame(
                            "std::thread::_State_impl<std::thread::_Invoker<std::tuple<WorkerPool::start()::{lambda()#1}>>>::_M_run()",
                            [
                                frame(
                                    "WorkerPool::drain()",
                                    [frame("operator<<(std::ostream&, Job const&)", own: 393_216)])
                            ]),
                    ]),
            ])

        return HTMLReportData.Process(
            pid: 48213, command: "/opt/acme/bin/leaky-server --port 8080 --cache-size 64M", verdict: "leak",
            times: times, heapBytes: heap, rssBytes: rss, warmupSeconds: warmup,
            heapSlopeBytesPerSecond: slope, heapInterceptBytes: intercept,
            heapClassification: "leak", rssClassification: "growth", leaks: leaks, otherGrowth: others, flame: flame)
    }

    private static func stableWorker() -> HTMLReportData.Process {
        let warmup = 30.0
        let times = (0..<30).map { Double($0) * 20 }
        // Batches fill a buffer and release it, a sawtooth with a flat floor.
        let heap = times.map { t in (14 * MiB + 6 * MiB * (t.truncatingRemainder(dividingBy: 120) / 120)).rounded() }
        let rss = times.map { _ in 41 * MiB }
        let (intercept, slope) = fit(times: times, values: heap, from: warmup)
        let flame = frame(
            "all growth",
            [frame("start_thread", [frame("WorkerPool::drain()", [frame("Batch::reserve(unsigned long)", own: 262_144)])])])
        return HTMLReportData.Process(
            pid: 48230, command: "/opt/acme/bin/worker --threads 4", verdict: "stable",
            times: times, heapBytes: heap, rssBytes: rss, warmupSeconds: warmup,
            heapSlopeBytesPerSecond: slope, heapInterceptBytes: intercept,
            heapClassification: "sawtooth", rssClassification: "stable", leaks: [], flame: flame)
    }

    /// Text that breaks naive HTML or script embedding, in every field that reaches the page.
    static let hostile = "</script><b>&\"'<!--<script>"

    /// The demo data with `hostile` in every string field.
    static func hostileData() -> HTMLReportData {
        var data = demo()
        data.title = "title " + hostile
        data.session = "session " + hostile
        data.verdict = "leak " + hostile
        data.generatedAt = "at " + hostile
        data.processes[0].command = "cmd " + hostile
        data.processes[0].verdict = "verdict " + hostile
        data.processes[0].heapClassification = "heap " + hostile
        data.processes[0].rssClassification = "rss " + hostile
        data.processes[0].leaks[0].classification = "class " + hostile
        data.processes[0].leaks[0].frames[0] = HTMLReportData.Frame(
            function: "fn " + hostile, location: "file" + hostile + ".cpp:1")
        data.processes[0].flame.name = "root " + hostile
        data.processes[0].flame.children[0].name = "child " + hostile
        return data
    }
}
