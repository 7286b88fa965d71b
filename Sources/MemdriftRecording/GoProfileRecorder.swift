import Glibc
import MemdriftCore
import MemdriftPprof

/// Fetches a Go process's heap profile from its net/http/pprof endpoint once per poll and keeps
/// the bytes, as served, in the session: `SESSION/go-<pid>/heap-<CLOCK_MONOTONIC ns>.pb.gz`.
///
/// Each file is complete or absent (written under a temporary dot-name, then renamed), private
/// (0600 in a 0700 directory) and never written through a symlink. A response is kept only if it
/// decodes as a Go heap profile. Failures never throw: the first failure of each kind (endpoint
/// down, too slow, not serving a heap profile, session not writable) comes back from `poll()` as
/// one warning line, repeats of that kind stay silent, and the first success after a reported
/// failure is noted once.
public final class GoProfileRecorder {
    /// The endpoint as given, which messages name.
    public let url: HTTPURL
    /// What is fetched: `url` asking for a collection first (`collectingFirst`).
    let fetched: HTTPURL
    /// `SESSION/go-<pid>`, created on the first profile kept.
    public let directory: String
    /// Seconds one fetch may take: half the interval, at most 2.
    public let timeout: Double
    /// Profiles written so far.
    public private(set) var profilesWritten = 0
    /// Polls that kept nothing.
    public private(set) var failedPolls = 0
    /// What the last failed poll said; nil after a success.
    public private(set) var lastFailure: String?
    /// Failed polls said nothing about while no profile was kept yet: a service started with the
    /// run needs a moment before it listens.
    public var quietFailuresAtStart = 0

    private enum FailureKind: Hashable {
        case down, slow, notAHeapProfile, unwritable
    }

    private let client: HTTPClient
    private var directoryFD: Int32 = -1
    private var reported: Set<FailureKind> = []
    private var recoveryNoted = false
    private var failuresInARow = 0

    /// Fails with one line for a URL no recorder could fetch (before anything is started).
    public static func check(_ url: String) throws(RecordingError) {
        do throws(HTTPError) {
            _ = try HTTPURL(url)
        } catch {
            throw .invalidOption("--pprof-url: \(error)")
        }
    }

    /// A recorder for the process `pid` serving `url`, polled every `interval` seconds.
    ///
    /// Throws only for a URL it can never fetch (https, not http) or an interval that is not positive.
    public init(url: String, sessionPath: String, pid: Int32, interval: Double) throws(RecordingError) {
        do throws(HTTPError) {
            self.url = try HTTPURL(url)
            fetched = try HTTPURL(Self.collectingFirst(url))
        } catch {
            throw .invalidOption("--pprof-url: \(error)")
        }
        guard interval > 0, interval.isFinite else { throw .invalidOption("--pprof-url needs a positive interval") }
        directory = Path.join(sessionPath, GoHeapSamples.directoryName(pid: pid))
        // The run's loop waits for the fetch: keep it short enough not to delay Ctrl-C or the end.
        timeout = min(interval / 2, 2)
        client = HTTPClient(timeout: timeout)
    }

    /// `url` with `gc=1` added to its query unless it sets `gc` itself: net/http/pprof then collects
    /// garbage before writing the profile. Go's heap profile describes the heap as of the last
    /// collection, and a program whose heap keeps growing collects ever more rarely (each time the
    /// heap doubles), so without it a leak shows as a few steps seconds apart.
    static func collectingFirst(_ url: String) -> String {
        let query = url.split(separator: "?", maxSplits: 1).dropFirst().first ?? ""
        if query.split(separator: "&").contains(where: { $0 == "gc" || $0.hasPrefix("gc=") }) { return url }
        let separator = !url.contains("?") ? "?" : url.hasSuffix("?") || url.hasSuffix("&") ? "" : "&"
        return url + separator + "gc=1"
    }

    deinit {
        if directoryFD >= 0 { close(directoryFD) }
    }

    /// Fetches and keeps one profile; returns a warning line to show, or nil.
    public func poll() -> String? {
        let body: [UInt8]
        do throws(HTTPError) {
            body = try client.get(fetched).body
        } catch {
            return failed(Self.kind(of: error), "cannot fetch the Go heap profile from \(url): \(error)")
        }
        do throws(PprofError) {
            try GoHeapProfile.validate(body)
        } catch {
            return failed(.notAHeapProfile, "\(url) does not serve a Go heap profile: \(error)")
        }
        let now = monotonicNanos()
        do throws(WriteFailure) {
            try write(body, name: GoHeapSamples.fileName(monotonicNanos: now))
        } catch {
            return failed(.unwritable, "cannot keep Go heap profiles in \(directory): \(error.reason)")
        }
        profilesWritten += 1
        lastFailure = nil
        let failures = failuresInARow
        failuresInARow = 0
        guard !reported.isEmpty, !recoveryNoted, failures > 0 else { return nil }
        recoveryNoted = true
        return "the Go heap profile at \(url) is being fetched again (after \(failures) failed poll\(failures == 1 ? "" : "s"))"
    }

    private func failed(_ kind: FailureKind, _ message: String) -> String? {
        failedPolls += 1
        failuresInARow += 1
        lastFailure = message
        if profilesWritten == 0 && failedPolls <= quietFailuresAtStart { return nil }
        guard reported.insert(kind).inserted else { return nil }
        return message + "; further failures like this are not reported"
    }

    private static func kind(of error: HTTPError) -> FailureKind {
        switch error {
        case .timedOut: .slow
        case .status, .malformedResponse, .bodyTooLarge: .notAHeapProfile
        case .invalidURL, .httpsUnsupported, .cannotResolve, .connectionRefused, .cannotConnect, .connectionFailed, .closedEarly:
            .down
        }
    }

    private struct WriteFailure: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
        static func system() -> WriteFailure { WriteFailure(String(cString: strerror(errno))) }
    }

    /// The series directory, opened once so later writes cannot be redirected through a symlink swapped in for it.
    private func openDirectory() throws(WriteFailure) -> Int32 {
        if directoryFD >= 0 { return directoryFD }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw .system() }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw errno == ELOOP || errno == ENOTDIR ? WriteFailure("it is not a directory (a symbolic link?)") : .system()
        }
        var info = stat()
        let failure: WriteFailure? =
            if fstat(fd, &info) != 0 { .system() } else if info.st_uid != geteuid() {
                WriteFailure("it belongs to another user")
            } else if fchmod(fd, 0o700) != 0 { .system() } else { nil }
        if let failure {
            close(fd)
            throw failure
        }
        directoryFD = fd
        return fd
    }

    private func write(_ bytes: [UInt8], name: String) throws(WriteFailure) {
        let directoryFD = try openDirectory()
        let temporary = "." + name + ".tmp"
        let fd = openat(directoryFD, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system() }
        var failure: WriteFailure?
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                buffer.baseAddress.map { Glibc.write(fd, $0 + done, buffer.count - done) } ?? 0
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                failure = n < 0 ? .system() : WriteFailure("the disk accepted no more bytes")
                break
            }
            done += n
        }
        if close(fd) != 0 && failure == nil { failure = .system() }
        if failure == nil && renameat(directoryFD, temporary, directoryFD, name) != 0 { failure = .system() }
        if let failure {
            unlinkat(directoryFD, temporary, 0)
            throw failure
        }
    }
}
