import Glibc
import MemdriftCore

/// An `http://host[:port]/path` URL; nothing else is fetched.
public struct HTTPURL: Sendable, Hashable, CustomStringConvertible {
    /// The host as written, without IPv6 brackets.
    public let host: String
    public let port: UInt16
    /// The path and query, starting with `/`.
    public let target: String

    /// Parses `text`; https, user info and fragments are refused with a one-line reason.
    public init(_ text: String) throws(HTTPError) {
        if text.lowercased().hasPrefix("https://") { throw .httpsUnsupported(url: text) }
        guard text.lowercased().hasPrefix("http://") else {
            throw .invalidURL(url: text, reason: "only http://host:port/path URLs can be fetched")
        }
        let rest = text.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let target = rest[slash...]
        guard !authority.contains("@") else { throw .invalidURL(url: text, reason: "user names and passwords are not supported") }
        guard !target.contains("#"), !target.contains(where: { $0 == " " || $0.isNewline }) else {
            throw .invalidURL(url: text, reason: "the path has spaces, line breaks or a fragment")
        }
        var host = Substring(""), port: UInt16 = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalidURL(url: text, reason: "unclosed [ in the host")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = UInt16(after.dropFirst()), value > 0 else {
                    throw .invalidURL(url: text, reason: "the port is not a number from 1 to 65535")
                }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let value = UInt16(authority[authority.index(after: colon)...]), value > 0 else {
                throw .invalidURL(url: text, reason: "the port is not a number from 1 to 65535")
            }
            port = value
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw .invalidURL(url: text, reason: "it names no host") }
        self.host = String(host)
        self.port = port
        self.target = target.isEmpty ? "/" : String(target)
    }

    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "http://\(shownHost):\(port)\(target)"
    }
}

/// A response with status 200.
public struct HTTPResponse: Sendable {
    /// Header names lowercased, in the order received.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name == lowered }?.value
    }
}

/// Why a GET did not return a body; each message is one line saying what happened.
public enum HTTPError: Error, Equatable, CustomStringConvertible {
    case invalidURL(url: String, reason: String)
    case httpsUnsupported(url: String)
    case cannotResolve(host: String, reason: String)
    case connectionRefused
    case cannotConnect(reason: String)
    case timedOut(seconds: Double)
    case connectionFailed(reason: String)
    case closedEarly
    case malformedResponse(detail: String)
    case status(code: Int, reason: String, location: String?)
    case bodyTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason): "cannot use \(url): \(reason)"
        case .httpsUnsupported(let url):
            "cannot fetch \(url): https is not supported, only plain http:// (pprof endpoints normally listen on loopback)"
        case .cannotResolve(let host, let reason): "cannot resolve \(host): \(reason)"
        case .connectionRefused: "connection refused"
        case .cannotConnect(let reason): "cannot connect: \(reason)"
        case .timedOut(let seconds): "timed out after \(formatSeconds(seconds))"
        case .connectionFailed(let reason): "connection failed: \(reason)"
        case .closedEarly: "the connection closed before the response was complete"
        case .malformedResponse(let detail): "not an HTTP response: \(detail)"
        case .status(let code, let reason, let location):
            "HTTP \(code)\(reason.isEmpty ? "" : " " + reason)\(location.map { " (redirect to \($0), not followed)" } ?? "")"
        case .bodyTooLarge(let limit): "the response is larger than \(Units.formatBytes(UInt64(clamping: limit)))"
        }
    }
}

/// A minimal HTTP/1.1 client for GETs from local endpoints, on plain sockets with one deadline.
///
/// It sends `Connection: close`, reads bodies framed by Content-Length, chunked transfer
/// encoding or the end of the connection, never follows redirects, and treats every status
/// but 200 as an error. The timeout covers everything from connecting to the body's last byte;
/// a host name's lookup is not bounded by it (numeric addresses and `localhost` need no DNS).
public struct HTTPClient: Sendable {
    /// Seconds the whole exchange may take.
    public var timeout: Double
    /// The largest body accepted.
    public var maximumBodySize: Int

    /// Creates a client.
    public init(timeout: Double, maximumBodySize: Int = 256 << 20) {
        self.timeout = timeout
        self.maximumBodySize = maximumBodySize
    }

    /// GETs `url` and returns the response if its status is 200.
    public func get(_ url: HTTPURL) throws(HTTPError) -> HTTPResponse {
        let deadline = Deadline(seconds: timeout)
        var connection = try Connection.open(url, deadline: deadline)
        defer { connection.close() }
        let request =
            "GET \(url.target) HTTP/1.1\r\nHost: \(url.host.contains(":") ? "[\(url.host)]" : url.host):\(url.port)\r\n"
            + "User-Agent: memdrift\r\nAccept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
        try connection.send(Array(request.utf8))
        return try readResponse(&connection)
    }

    private func readResponse(_ connection: inout Connection) throws(HTTPError) -> HTTPResponse {
        var status = 0, reason = "", headers: [(name: String, value: String)] = []
        // 1xx responses (100 Continue) precede the real one.
        repeat {
            (status, reason) = try Self.statusLine(try connection.line())
            headers = try Self.headers(&connection)
        } while status >= 100 && status < 200
        let response = HTTPResponse(headers: headers, body: [])
        guard status == 200 else {
            throw .status(
                code: status, reason: reason, location: (300..<400).contains(status) ? response.header("location") : nil)
        }
        if let encoding = response.header("content-encoding"), encoding.lowercased() != "identity" {
            throw .malformedResponse(detail: "unrequested Content-Encoding \(encoding)")
        }
        var body: [UInt8]
        if let transfer = response.header("transfer-encoding"), transfer.lowercased().contains("chunked") {
            body = try chunkedBody(&connection)
        } else if let length = response.header("content-length") {
            guard let count = Int(length), count >= 0 else {
                throw .malformedResponse(detail: "Content-Length \(length) is not a number")
            }
            guard count <= maximumBodySize else { throw .bodyTooLarge(limit: maximumBodySize) }
            body = try connection.bytes(count)
        } else {
            body = try connection.rest(limit: maximumBodySize)
        }
        return HTTPResponse(headers: headers, body: body)
    }

    private static func statusLine(_ line: String) throws(HTTPError) -> (Int, String) {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let code = Int(parts[1]) else {
            throw .malformedResponse(detail: "status line \"\(line.prefix(60))\"")
        }
        return (code, parts.count == 3 ? String(parts[2]) : "")
    }

    private static func headers(_ connection: inout Connection) throws(HTTPError) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        while true {
            let line = try connection.line()
            if line.isEmpty { return headers }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw .malformedResponse(detail: "header line \"\(line.prefix(60))\"")
            }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            headers.append((line[..<colon].lowercased(), String(value.reversed().drop { $0 == " " || $0 == "\t" }.reversed())))
            guard headers.count <= 200 else { throw .malformedResponse(detail: "more than 200 header lines") }
        }
    }

    private func chunkedBody(_ connection: inout Connection) throws(HTTPError) -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let line = try connection.line()
            let digits = line.prefix { $0 != ";" }.trimmingCharacters(" \t")
            guard !digits.isEmpty, digits.count <= 15, let size = Int(digits, radix: 16) else {
                throw .malformedResponse(detail: "chunk size \"\(line.prefix(40))\"")
            }
            if size == 0 { break }
            guard size <= maximumBodySize - body.count else { throw .bodyTooLarge(limit: maximumBodySize) }
            body += try connection.bytes(size)
            guard try connection.line().isEmpty else { throw .malformedResponse(detail: "no line break after a chunk") }
        }
        // Trailer fields, up to the empty line.
        _ = try Self.headers(&connection)
        return body
    }
}

/// An absolute CLOCK_MONOTONIC deadline.
private struct Deadline {
    let seconds: Double
    let end: Double

    init(seconds: Double) {
        self.seconds = seconds
        end = monotonicSeconds() + seconds
    }

    /// Milliseconds left for poll(2); throws once none are.
    func remainingMilliseconds() throws(HTTPError) -> Int32 {
        let left = end - monotonicSeconds()
        guard left > 0 else { throw .timedOut(seconds: seconds) }
        return Int32(min((left * 1000).rounded(.up), Double(Int32.max)))
    }
}

private func monotonicSeconds() -> Double { Double(monotonicNanos()) / 1e9 }

/// One nonblocking TCP connection with a read buffer; every wait is bounded by the deadline.
private struct Connection {
    private var fd: Int32
    private let deadline: Deadline
    private var buffer: [UInt8] = []
    private var start = 0
    private var ended = false

    /// Resolves `url.host` and connects to the first address that accepts.
    static func open(_ url: HTTPURL, deadline: Deadline) throws(HTTPError) -> Connection {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(url.host, String(url.port), &hints, &list)
        guard status == 0, let first = list else {
            throw .cannotResolve(host: url.host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var lastError: HTTPError = .connectionRefused
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            do throws(HTTPError) {
                return try connect(address.pointee, deadline: deadline)
            } catch .timedOut(let seconds) {
                throw .timedOut(seconds: seconds)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    private static func connect(_ address: addrinfo, deadline: Deadline) throws(HTTPError) -> Connection {
        let fd = socket(
            address.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .cannotConnect(reason: String(cString: strerror(errno))) }
        var connection = Connection(fd: fd, deadline: deadline)
        if Glibc.connect(fd, address.ai_addr, address.ai_addrlen) != 0 {
            let error = errno
            guard error == EINPROGRESS || error == EINTR else {
                connection.close()
                throw connectError(error)
            }
            do throws(HTTPError) {
                try connection.wait(for: Int16(POLLOUT))
            } catch {
                connection.close()
                throw error
            }
            var result: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &length)
            guard result == 0 else {
                connection.close()
                throw connectError(result)
            }
        }
        return connection
    }

    private static func connectError(_ code: Int32) -> HTTPError {
        code == ECONNREFUSED ? .connectionRefused : .cannotConnect(reason: String(cString: strerror(code)))
    }

    private init(fd: Int32, deadline: Deadline) {
        self.fd = fd
        self.deadline = deadline
    }

    mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Blocks in poll(2) until `events` or the deadline.
    private func wait(for events: Int16) throws(HTTPError) {
        while true {
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, try deadline.remainingMilliseconds())
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .connectionFailed(reason: String(cString: strerror(errno))) }
        }
    }

    func send(_ bytes: [UInt8]) throws(HTTPError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                buffer.baseAddress.map { Glibc.send(fd, $0 + done, buffer.count - done, Int32(MSG_NOSIGNAL)) } ?? 0
            }
            if n > 0 {
                done += n
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                try wait(for: Int16(POLLOUT))
            } else {
                throw .connectionFailed(reason: String(cString: strerror(errno)))
            }
        }
    }

    /// Reads more into the buffer; false at the end of the stream.
    private mutating func fill() throws(HTTPError) -> Bool {
        if ended { return false }
        if start > 64 << 10 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer += chunk[0..<n]
                return true
            }
            if n == 0 {
                ended = true
                return false
            }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try wait(for: Int16(POLLIN))
            } else {
                throw .connectionFailed(reason: String(cString: strerror(errno)))
            }
        }
    }

    /// One line without its CRLF (or bare LF); header lines are at most 16 KiB.
    mutating func line() throws(HTTPError) -> String {
        // Bytes already searched, counted from `start`: fill() may move the buffer's contents.
        var searched = 0
        while true {
            if let newline = buffer[(start + searched)...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let text = String(decoding: buffer[start..<end], as: UTF8.self)
                start = newline + 1
                return text
            }
            searched = buffer.count - start
            guard searched <= 16 << 10 else { throw .malformedResponse(detail: "a line longer than 16 KiB") }
            guard try fill() else { throw .closedEarly }
        }
    }

    /// Exactly `count` bytes.
    mutating func bytes(_ count: Int) throws(HTTPError) -> [UInt8] {
        while buffer.count - start < count {
            guard try fill() else { throw .closedEarly }
        }
        let out = Array(buffer[start..<start + count])
        start += count
        return out
    }

    /// Everything up to the end of the stream.
    mutating func rest(limit: Int) throws(HTTPError) -> [UInt8] {
        while try fill() {
            guard buffer.count - start <= limit else { throw .bodyTooLarge(limit: limit) }
        }
        let out = Array(buffer[start...])
        start = buffer.count
        return out
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(_ set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

/// `2s`, `2.5s`, `50ms`: a timeout as people write it.
func formatSeconds(_ seconds: Double) -> String {
    if seconds < 0.1 { return "\(Int((seconds * 1000).rounded()))ms" }
    let tenths = Int((seconds * 10).rounded())
    return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
}
