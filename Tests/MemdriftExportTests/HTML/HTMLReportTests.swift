import Foundation
import MemdriftExport
import Testing

/// The fields of the embedded JSON that the tests read back.
private struct DecodedReport: Decodable {
    struct Node: Decodable {
        var name: String
        var value: Int64
        var children: [Node]
    }
    struct Frame: Decodable, Equatable {
        var function: String
        var location: String?
    }
    struct Suspect: Decodable {
        var classification: String
        var frames: [Frame]
    }
    struct Process: Decodable {
        var pid: Int32
        var command: String
        var verdict: String
        var heapClassification: String
        var rssClassification: String
        var times: [Double]
        var leaks: [Suspect]
        var flame: Node
    }
    var title: String
    var session: String
    var verdict: String
    var generatedAt: String
    var processes: [Process]
}

/// The text of the embedded JSON data element.
private func embeddedJSON(_ html: String) throws -> String {
    let open = "<script type=\"application/json\" id=\"\(HTMLReport.dataElementID)\">"
    let start = try #require(html.range(of: open))
    let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
    return String(html[start.upperBound..<end.lowerBound])
}

private func occurrences(of needle: String, in haystack: String) -> Int {
    haystack.lowercased().components(separatedBy: needle.lowercased()).count - 1
}

@Suite struct HTMLReportTests {
    @Test func documentIsSelfContained() {
        let html = HTMLReport.render(HTMLReportSamples.demo()).lowercased()
        #expect(html.hasPrefix("<!doctype html>"))
        for forbidden in ["http://", "https://", "<link", "src=", "url(", "@import", "<iframe", "<object", "<embed"] {
            #expect(!html.contains(forbidden), "document contains \(forbidden)")
        }
        // The policy makes the browser refuse any fetch the script might still attempt.
        #expect(html.contains("content-security-policy") && html.contains("default-src 'none'"))
    }

    @Test func hostileNamesAreEscapedInMarkup() {
        let html = HTMLReport.render(HTMLReportSamples.hostileData())
        // One closing tag ends the data, one the script; none may come from the data.
        #expect(occurrences(of: "</script", in: html) == 2)
        #expect(occurrences(of: "<script", in: html) == 2)
        #expect(!html.contains("<b>"))
        #expect(!html.contains("<!--"))
        let escaped = "&lt;/script&gt;&lt;b&gt;&amp;&quot;&#39;&lt;!--&lt;script&gt;"
        for field in ["title ", "session ", "leak ", "at ", "cmd ", "verdict ", "heap ", "rss ", "class ", "fn "] {
            #expect(html.contains(field + escaped), "\(field) is not escaped")
        }
        #expect(html.contains("<span class=\"loc\">file\(escaped).cpp:1</span>"))
    }

    @Test func hostileNamesSurviveTheJSONBlock() throws {
        let data = HTMLReportSamples.hostileData()
        let json = try embeddedJSON(HTMLReport.render(data))
        #expect(!json.contains("<") && !json.contains(">") && !json.contains("&"))
        let decoded = try JSONDecoder().decode(DecodedReport.self, from: Data(json.utf8))
        #expect(decoded.title == data.title)
        #expect(decoded.session == data.session)
        #expect(decoded.verdict == data.verdict)
        #expect(decoded.generatedAt == data.generatedAt)
        let process = try #require(decoded.processes.first)
        #expect(process.command == data.processes[0].command)
        #expect(process.verdict == data.processes[0].verdict)
        #expect(process.heapClassification == data.processes[0].heapClassification)
        #expect(process.rssClassification == data.processes[0].rssClassification)
        #expect(process.leaks[0].classification == data.processes[0].leaks[0].classification)
        #expect(process.leaks[0].frames.map(\.function) == data.processes[0].leaks[0].frames.map(\.function))
        #expect(process.leaks[0].frames.map(\.location) == data.processes[0].leaks[0].frames.map(\.location))
        #expect(process.flame.name == data.processes[0].flame.name)
        #expect(process.flame.children[0].name == data.processes[0].flame.children[0].name)
        #expect(process.flame.value == data.processes[0].flame.value)
        #expect(process.times == data.processes[0].times)
    }

    @Test func containsChartAndFlameContainersForEveryProcess() {
        let data = HTMLReportSamples.demo()
        let html = HTMLReport.render(data)
        #expect(data.processes.count == 2)
        for index in data.processes.indices {
            #expect(html.contains("<section class=\"card process\" id=\"process-\(index)\""))
            #expect(html.contains("<div class=\"chart\" id=\"chart-\(index)\""))
            #expect(html.contains("<div class=\"flame\" id=\"flame-\(index)\""))
            #expect(html.contains("id=\"flame-search-\(index)\""))
        }
        #expect(occurrences(of: "class=\"flame-reset\"", in: html) == 2)
        // The leaking process has a table of leaks and one of other growth; the stable one says it has no leak.
        #expect(occurrences(of: "<table class=\"suspects\">", in: html) == 2)
        #expect(html.contains("<h3>Other growth (not leaks)</h3>"))
        #expect(html.contains("No call site leaks."))
        #expect(html.contains("id=\"md-tooltip\""))
    }

    @Test func suspectsShowGrowthSlopeAndLocations() {
        let html = HTMLReport.render(HTMLReportSamples.demo())
        #expect(html.contains("+32.3 MiB"))
        #expect(html.contains("+225 MiB/h"))
        #expect(html.contains("33,120"))
        #expect(
            html.contains(
                "<span class=\"fn\">SessionRegistry::track(std::unique_ptr&lt;Session, std::default_delete&lt;Session&gt;&gt;)</span> <span class=\"loc\">registry.cpp:88</span>"
            ))
        #expect(
            html.contains("<span class=\"fn\">MetricsStore.record(_:at:)</span> <span class=\"loc\">MetricsStore.swift:57</span>")
        )
        // Frames past the first few fold into a details element.
        #expect(html.contains("<summary>2 more frames</summary>"))
        #expect(html.contains("<span class=\"badge tone-bad\">leak</span>"))
        #expect(html.contains("<span class=\"badge tone-info\">bounded</span>"))
    }

    @Test func outputIsDeterministic() {
        let first = HTMLReport.render(HTMLReportSamples.demo())
        let second = HTMLReport.render(HTMLReportSamples.demo())
        #expect(first == second)
        #expect(first == HTMLReport.render(HTMLReportSamples.demo()))
    }

    @Test func nonFiniteNumbersStillEmbedValidJSON() throws {
        var data = HTMLReportSamples.demo()
        data.processes[0].heapSlopeBytesPerSecond = .nan
        data.processes[0].heapInterceptBytes = .infinity
        data.processes[0].heapBytes[3] = -.infinity
        data.processes[0].leaks[0].slopeBytesPerHour = .nan
        let html = HTMLReport.render(data)
        let json = try embeddedJSON(html)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let processes = try #require(object?["processes"] as? [[String: Any]])
        #expect(processes[0]["heapSlopeBytesPerSecond"] as? String == "NaN")
    }

    @Test func emptySessionStillRenders() throws {
        let data = HTMLReportData(title: "empty", session: "s", verdict: "inconclusive", generatedAt: "now", processes: [])
        let html = HTMLReport.render(data)
        #expect(html.contains("The session recorded no processes."))
        let decoded = try JSONDecoder().decode(DecodedReport.self, from: Data(try embeddedJSON(html).utf8))
        #expect(decoded.processes.isEmpty)
    }

    @Test func framesShowFunctionAndLocationApart() {
        let html = HTMLReport.render(HTMLReportSamples.demo())
        #expect(html.contains("<span class=\"fn\">operator new(unsigned long)</span> <span class=\"loc\">new_op.cc:50</span>"))
        var data = HTMLReportSamples.demo()
        data.processes[0].leaks[0].frames = [.init(function: "Foo::bar(int) const"), .init(function: "baz")]
        let plain = HTMLReport.render(data)
        #expect(plain.contains("<li><span class=\"fn\">Foo::bar(int) const</span></li>"))
    }

    /// Writes the demo report for `scripts/check-html.sh`; MEMDRIFT_HTML_DEMO chooses the path.
    @Test func writesDemoReport() throws {
        try write(HTMLReportSamples.demo(), environmentKey: "MEMDRIFT_HTML_DEMO", fallbackName: "memdrift-demo-report.html")
    }

    /// Writes the demo with hostile names for the browser check; MEMDRIFT_HTML_HOSTILE_DEMO chooses the path.
    @Test func writesHostileDemoReport() throws {
        try write(
            HTMLReportSamples.hostileData(), environmentKey: "MEMDRIFT_HTML_HOSTILE_DEMO",
            fallbackName: "memdrift-hostile-report.html")
    }

    private func write(_ data: HTMLReportData, environmentKey: String, fallbackName: String) throws {
        let path =
            ProcessInfo.processInfo.environment[environmentKey]
            ?? FileManager.default.temporaryDirectory.appendingPathComponent(fallbackName).path
        let html = HTMLReport.render(data)
        try html.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == html)
    }
}
