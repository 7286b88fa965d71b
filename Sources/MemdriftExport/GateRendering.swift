import MemdriftAnalysis

/// The human outcome of a gate, naming failing checks and call sites.
public enum GateText {
    /// The gate's text.
    public static func render(_ result: GateResult, session: String) -> String {
        let failed = result.checks.filter { !$0.passed }
        var out =
            "memdrift gate: \(result.passed ? "PASS" : "FAIL") (\(failed.count) of \(result.checks.count) checks failed) for \(session)\n"
        for c in result.checks { out += "  \(c.passed ? "pass" : "FAIL") pid \(c.pid) \(c.name): \(c.message)\n" }
        return out
    }
}

/// JUnit XML of a gate, one test case per check, as CI servers display it.
public enum JUnitXML {
    /// The XML document.
    public static func render(_ result: GateResult, session: String) -> String {
        let failures = result.checks.filter { !$0.passed }.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"memdrift\" tests=\"\(result.checks.count)\" failures=\"\(failures)\">\n"
        out +=
            "  <testsuite name=\"\(escape("memdrift gate " + session))\" tests=\"\(result.checks.count)\" failures=\"\(failures)\" errors=\"0\">\n"
        for c in result.checks {
            let program = c.command.split(separator: " ").first.map { String($0.split(separator: "/").last ?? $0) } ?? "process"
            out +=
                "    <testcase classname=\"\(escape("memdrift.pid-\(c.pid).\(program)"))\" name=\"\(escape(c.name))\" time=\"0\""
            if c.passed {
                out += "/>\n"
            } else {
                out +=
                    ">\n      <failure message=\"\(escape(c.message))\" type=\"memdrift.\(escape(c.name.replacing(" ", with: "_")))\">\(escape(c.command + "\n" + c.message))</failure>\n    </testcase>\n"
            }
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    /// XML 1.0 forbids most control characters even escaped; the rest escapes as HTML does.
    static func escape(_ s: String) -> String {
        let allowed = String(
            String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 0x20 && $0 != "\n" && $0 != "\t" ? "?" : $0 }))
        return HTMLEscaping.text(allowed)
    }
}
