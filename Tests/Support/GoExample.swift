import Foundation

/// The `go` command, from PATH or where Debian's golang-go puts it; nil when go is not installed.
public let goCommand: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let candidates = path.split(separator: ":").map { "\($0)/go" } + ["/usr/lib/go/bin/go"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// Examples/go-service built once per test run with CGO_ENABLED=0, or why it could not be.
public let goService: Result<String, GoServiceError> = {
    guard let go = goCommand else { return .failure(GoServiceError("go is not installed")) }
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Examples/go-service").path
    do {
        let directory = NSTemporaryDirectory() + "memdrift-go-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let binary = directory + "/go-service"
        var environment = ProcessInfo.processInfo.environment
        // go needs a writable build cache; GOTOOLCHAIN=local and GOPROXY=off keep it from the network.
        let home = environment["HOME"] ?? ""
        if home.isEmpty || access(home, W_OK) != 0 {
            environment["GOCACHE"] = directory + "/gocache"
            environment["GOPATH"] = directory + "/gopath"
            environment["HOME"] = directory
        }
        for (key, value) in ["CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOPROXY": "off", "GOFLAGS": ""] {
            environment[key] = value
        }
        let log = directory + "/build.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: go)
        process.arguments = ["build", "-o", binary, "."]
        process.currentDirectoryURL = URL(fileURLWithPath: source)
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardError = process.standardOutput
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return .failure(GoServiceError("go build failed: \(output)"))
        }
        return .success(binary)
    } catch {
        return .failure(GoServiceError("cannot build Examples/go-service: \(error)"))
    }
}()

public struct GoServiceError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
