import Foundation
import Testing

@testable import MemdriftSymbolization

/// A fixture tool (compiler, nm, strip…) failed.
struct FixtureToolError: Error, CustomStringConvertible {
    var command: String
    var status: Int32
    var output: String

    var description: String { "`\(command)` exited with \(status):\n\(output)" }
}

/// A per-test scratch directory that removes itself.
final class ScratchDirectory: Sendable {
    let path: String

    init(_ label: String) throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/memdrift-sym-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Absolute path of `name` inside the directory.
    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Writes `contents` to `name` and returns its path.
    @discardableResult
    func write(_ name: String, _ contents: String) throws -> String {
        let target = file(name)
        try contents.write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }
}

/// Runs a tool found on PATH (plus the usual toolchain locations) and returns its standard output.
@discardableResult
func runTool(_ tool: String, _ arguments: [String], directory: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    var environment = ProcessInfo.processInfo.environment
    let extra = ["\(NSHomeDirectory())/.cargo/bin", "/opt/swift/usr/bin", "/usr/local/bin", "/usr/bin", "/bin"]
    environment["PATH"] = ([environment["PATH"] ?? ""] + extra).joined(separator: ":")
    process.environment = environment
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let errorLog = FileManager.default.temporaryDirectory.appendingPathComponent("memdrift-tool-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errorLog) }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = try FileHandle(forWritingTo: errorLog)
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        let errorText = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
        throw FixtureToolError(
            command: ([tool] + arguments).joined(separator: " "),
            status: process.terminationStatus,
            output: text + errorText
        )
    }
    return text
}

/// Defined symbols of an ELF file as `nm` (or `nm -D`) reports them: name -> address.
func symbolAddresses(_ path: String, dynamic: Bool = false) throws -> [String: UInt64] {
    var arguments = ["--defined-only"]
    if dynamic { arguments.append("-D") }
    arguments.append(path)
    var symbols: [String: UInt64] = [:]
    for line in try runTool("nm", arguments).split(separator: "\n") {
        let fields = line.split(separator: " ", maxSplits: 2)
        guard fields.count == 3, let address = UInt64(fields[0], radix: 16) else { continue }
        let name = String(fields[2])
        if symbols[name] == nil { symbols[name] = address }
    }
    return symbols
}

/// The GNU build-id as `readelf -n` prints it.
func readelfBuildID(_ path: String) throws -> [UInt8] {
    let notes = try runTool("readelf", ["-n", path])
    guard let line = notes.split(separator: "\n").first(where: { $0.contains("Build ID:") }),
        let hex = line.split(separator: " ").last
    else { return [] }
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
        guard let byte = UInt8(hex[index..<next], radix: 16) else { return [] }
        bytes.append(byte)
        index = next
    }
    return bytes
}

/// 1-based number of the first line of `source` containing `marker`.
func lineNumber(of marker: String, in source: String) -> Int? {
    for (index, line) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
    where line.contains(marker) {
        return index + 1
    }
    return nil
}

/// Everything after the last slash.
func lastPathComponent(_ path: String?) -> String? {
    guard let path else { return nil }
    return path.split(separator: "/").last.map(String.init)
}

/// The C fixture: noinline functions, an always-inline helper, and return addresses printed relative to the load bias.
enum CFixture {
    static let source = """
        #define _GNU_SOURCE
        #include <link.h>
        #include <stdio.h>
        #include <stdlib.h>

        static unsigned long load_bias;

        static int first_object(struct dl_phdr_info *info, size_t size, void *data) {
            (void)size;
            (void)data;
            load_bias = info->dlpi_addr;
            return 1;
        }

        __attribute__((noinline)) void report(const char *tag) { /* MARK:report */
            printf("%s %lx\\n", tag, (unsigned long)__builtin_return_address(0) - load_bias);
        }

        static inline __attribute__((always_inline)) void inlined_helper(void) {
            report("inlined"); /* MARK:inlined-call */
        }

        __attribute__((noinline)) void direct_caller(void) { /* MARK:direct-start */
            report("direct"); /* MARK:direct-call */
        }

        __attribute__((noinline)) void outer_with_inline(void) { /* MARK:outer-start */
            inlined_helper(); /* MARK:outer-call */
        }

        __attribute__((noinline)) void *leaky_allocation(size_t n) { /* MARK:leaky-start */
            return malloc(n); /* MARK:leaky-call */
        }

        __attribute__((noinline)) static int local_only(int x) { /* MARK:local-start */
            return x * 3 + (int)load_bias;
        }

        int main(void) {
            dl_iterate_phdr(first_object, NULL);
            direct_caller();
            outer_with_inline();
            free(leaky_allocation(16));
            return local_only(1) == 42;
        }

        """

    /// A compiled copy in `directory`, with the return addresses it printed (`tag` -> module-relative address).
    struct Build {
        var binary: String
        var sourceFile: String
        var returnAddresses: [String: UInt64]
        var symbols: [String: UInt64]
    }

    static func build(in directory: ScratchDirectory, name: String = "fixture", flags: [String] = ["-O0"]) throws -> Build {
        let sourceFile = try directory.write("\(name).c", source)
        let binary = directory.file(name)
        try runTool("cc", ["-g", "-fno-optimize-sibling-calls", "-Wl,--build-id"] + flags + ["-o", binary, sourceFile])
        var returnAddresses: [String: UInt64] = [:]
        for line in try runTool(binary, []).split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let address = UInt64(fields[1], radix: 16) {
                returnAddresses[String(fields[0])] = address
            }
        }
        return Build(
            binary: binary, sourceFile: sourceFile, returnAddresses: returnAddresses,
            symbols: try symbolAddresses(binary))
    }

    static func line(_ marker: String) -> Int? {
        lineNumber(of: "MARK:\(marker) ", in: source)
    }
}
