/// The options `run` gives the runtimes it recognises so their code can be named: each writes a
/// perf map (`/tmp/perf-PID.map`) of its JIT or interpreter code, which the run copies into the
/// session. Only environment variables are set, so a program that is none of these runtimes is
/// untouched; `--no-runtime-support` leaves the environment as it was.
///
/// CPython needs nothing: the tracker reads the Python frames of 3.11-3.13 itself and records
/// pymalloc's objects (docs/runtimes.md). `PYTHONPERFSUPPORT` is no longer set: its trampolines
/// end the native stack walk, make every capture fall back to libunwind (exact tracing of
/// scripts/bench/alloc_heavy.py on 3.12 took 20 times as long) and turn off CPython's inlined
/// Python-to-Python calls. A user who sets it still gets the perf map copied.
public enum RuntimeSupport {
    /// Node.js: V8 names the JavaScript functions it compiles, and gives interpreted ones a frame of their own.
    static let node = "--perf-basic-prof-only-functions --interpreted-frames-native-stack"
    /// Erlang/Elixir (BEAM JIT, OTP 24+): names compiled functions, and keeps frame pointers.
    static let erlang = "+JPperf true"

    /// Adds the runtimes' options to `environment`, after whatever the user already set.
    public static func enable(in environment: inout [String: String]) {
        append(node, to: "NODE_OPTIONS", in: &environment)
        append(erlang, to: "ERL_FLAGS", in: &environment)
    }

    static func append(_ option: String, to variable: String, in environment: inout [String: String]) {
        let current = environment[variable] ?? ""
        guard !current.contains(option) else { return }
        environment[variable] = current.isEmpty ? option : current + " " + option
    }
}
