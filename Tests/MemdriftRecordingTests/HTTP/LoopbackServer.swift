import Foundation
import Glibc

/// A one-thread HTTP server on 127.0.0.1 for client tests: it answers each connection with the
/// bytes `respond` gives for that request's number (0 first) and text, then closes it.
///
/// With `respond` nil it listens but never accepts: the kernel completes connections into the
/// backlog, so clients connect and then wait for an answer that never comes.
final class LoopbackServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let lock = NSLock()
    private var received: [String] = []
    private var stopped = false
    /// Signalled when the serving thread has returned; nil when there is none.
    private let served: DispatchSemaphore?

    /// With `pieceSize`, responses go out in writes of that many bytes a few hundred microseconds
    /// apart, so the client sees lines and chunks split across its reads.
    init(pieceSize: Int = Int.max, respond: (@Sendable (_ index: Int, _ request: String) -> [UInt8])?) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 16) == 0 else {
            if fd >= 0 { close(fd) }
            throw POSIXError(.EADDRNOTAVAIL)
        }
        self.fd = fd
        port = Self.localPort(fd)
        served = respond == nil ? nil : DispatchSemaphore(value: 0)
        if let respond {
            let thread = Thread { [self] in
                serve(respond, pieceSize: pieceSize)
                served?.signal()
            }
            thread.start()
        }
    }

    /// The requests received so far, each as text up to the blank line.
    var requests: [String] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// Stops accepting; a connection being answered is finished first. The socket is closed only
    /// once the serving thread has returned: closed earlier, its number could be given to another
    /// test's new socket, which the thread's next accept would then serve.
    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        shutdown(fd, Int32(SHUT_RDWR))
        served?.wait()
        close(fd)
    }

    deinit {
        if !stopped { stop() }
    }

    private func serve(_ respond: @Sendable (Int, String) -> [UInt8], pieceSize: Int) {
        var index = 0
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 {
                lock.lock()
                let done = stopped
                lock.unlock()
                if done || errno != EINTR { return }
                continue
            }
            let request = Self.readRequest(client)
            lock.lock()
            received.append(request)
            lock.unlock()
            let response = respond(index, request)
            index += 1
            var sent = 0
            while sent < response.count {
                let size = min(pieceSize, response.count - sent)
                let n = response.withUnsafeBytes { send(client, $0.baseAddress! + sent, size, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                sent += n
                if pieceSize != Int.max { usleep(300) }
            }
            close(client)
        }
    }

    private static func readRequest(_ client: Int32) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !bytes.ends(with: Array("\r\n\r\n".utf8)) {
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func localPort(_ fd: Int32) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// A complete response with a Content-Length.
    static func response(_ status: String, headers: [String] = [], body: [UInt8] = []) -> [UInt8] {
        let head = (["HTTP/1.1 \(status)", "Content-Length: \(body.count)"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
        return Array(head.utf8) + body
    }

    /// A 200 response whose body is sent in chunks of `size` bytes, with a chunk extension and a trailer.
    static func chunked(_ body: [UInt8], size: Int) -> [UInt8] {
        var out = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        var offset = 0
        while offset < body.count {
            let piece = body[offset..<min(offset + size, body.count)]
            out += Array("\(String(piece.count, radix: 16));name=value\r\n".utf8) + piece + Array("\r\n".utf8)
            offset += piece.count
        }
        return out + Array("0\r\nX-Trailer: done\r\n\r\n".utf8)
    }

    /// A port on 127.0.0.1 that nothing listens on (bound and released again).
    static func closedPort() throws -> UInt16 {
        let server = try LoopbackServer(respond: nil)
        let port = server.port
        server.stop()
        return port
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
