import MemdriftCore
import Testing

@Suite struct PerfMapTests {
    @Test func namesJavaScriptPythonAndErlangCode() {
        let map = PerfMap(
            text: """
                390a35b0e356 10 JS:~rememberSession [eval]:1:25
                0x7ff5b0005900 10c JS:*rememberSession file:///srv/app.js:12:5
                7ff5b0006000 20 JS:~ node:internal/main/eval_string:1:1
                7ff5b0007000 40 py::handle_request:/srv/app.py
                7ff5b0008000 40 $app_server:handle_call/3
                7ff5b0009000 40 Interpreter
                not a line
                """)
        #expect(
            map.frame(at: 0x7FF5_B000_5910)
                == SourceFrame(runtime: "js", function: "rememberSession", file: "/srv/app.js", line: 12))
        #expect(
            map.frame(at: 0x390A_35B0_E356) == SourceFrame(runtime: "js", function: "rememberSession", file: "[eval]", line: 1))
        #expect(
            map.frame(at: 0x7FF5_B000_6001)
                == SourceFrame(runtime: "js", function: "(anonymous)", file: "node:internal/main/eval_string", line: 1))
        #expect(
            map.frame(at: 0x7FF5_B000_7010) == SourceFrame(runtime: "python", function: "handle_request", file: "/srv/app.py"))
        #expect(map.frame(at: 0x7FF5_B000_8000) == SourceFrame(runtime: "erlang", function: "app_server:handle_call/3"))
        #expect(map.frame(at: 0x7FF5_B000_9000)?.function == "Interpreter")
        #expect(map.frame(at: 0x7FF5_B000_5A0C) == nil)  // just past the end
        #expect(map.frame(at: 0x10) == nil)
    }

    /// Code is reused: the entry written last names the address.
    @Test func laterEntriesWin() {
        let map = PerfMap(text: "1000 100 JS:*old a.js:1:1\n1000 80 JS:*new b.js:2:1\n")
        #expect(map.frame(at: 0x1010)?.function == "new")
        #expect(map.frame(at: 0x1090)?.function == "old")
    }
}
