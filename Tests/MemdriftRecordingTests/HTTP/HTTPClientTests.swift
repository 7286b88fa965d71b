import Foundation
import MemdriftCore
import Testing

@testable import MemdriftRecording

@Suite("HTTP GET client")
struct HTTPClientTests {
    private let client = HTTPClient(timeout: 2)

    private func url(_ server: LoopbackServer, _ target: String = "/debug/pprof/heap") throws -> HTTPURL {
        try HTTPURL("http://127.0.0.1:\(server.port)\(target)")
    }

    @Test("URLs: host, port and target; https and other schemes are refused with a reason")
    func urls() throws {
        let local = try HTTPURL("http://localhost:6060/debug/pprof/heap?gc=1")
        #expect(local.host == "localhost" && local.port == 6060 && local.target == "/debug/pprof/heap?gc=1")
        let v6 = try HTTPURL("HTTP://[::1]:8080")
        #expect(v6.host == "::1" && v6.port == 8080 && v6.target == "/")
        #expect(v6.description == "http://[::1]:8080/")
        #expect(try HTTPURL("http://example.internal/x").port == 80)

        #expect(throws: HTTPError.httpsUnsupported(url: "https://127.0.0.1:6060/debug/pprof/heap")) {
            try HTTPURL("https://127.0.0.1:6060/debug/pprof/heap")
        }
        #expect(
            HTTPError.httpsUnsupported(url: "https://h/").description
                == "cannot fetch https://h/: https is not supported, only plain http:// (pprof endpoints normally listen on loopback)"
        )
        for bad in [
            "ftp://h/x", "127.0.0.1:6060", "http://", "http://:80/", "http://h:0/", "http://h:70000/", "http://u@h/",
            "http://h/a b", "http://[::1/",
        ] {
            #expect(throws: HTTPError.self, "\(bad)") { try HTTPURL(bad) }
        }
    }

    @Test("a Content-Length body, with the request a server expects")
    func contentLength() throws {
        let server = try LoopbackServer { _, _ in LoopbackServer.response("200 OK", body: Array("hello".utf8)) }
        defer { server.stop() }
        let response = try client.get(url(server, "/debug/pprof/heap?gc=1"))
        #expect(response.body == Array("hello".utf8))
        #expect(response.header("CONTENT-length") == "5")
        let request = try #require(server.requests.first)
        #expect(request.hasPrefix("GET /debug/pprof/heap?gc=1 HTTP/1.1\r\n"))
        #expect(request.contains("\r\nHost: 127.0.0.1:\(server.port)\r\n"))
        #expect(request.contains("\r\nConnection: close\r\n"))
    }

    @Test("a chunked body of many chunks, with extensions and a trailer")
    func chunked() throws {
        let body = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let server = try LoopbackServer { _, _ in LoopbackServer.chunked(body, size: 3001) }
        defer { server.stop() }
        #expect(try client.get(url(server)).body == body)
    }

    @Test("chunk-size lines split across reads after the client's buffer has moved on")
    func chunkedInPieces() throws {
        // A 100 KiB chunk moves the read position past the point where the buffer is compacted;
        // the small chunks after it then arrive in pieces that end inside chunk-size lines.
        let big = [UInt8](repeating: 0x5A, count: 100 << 10)
        let small = (0..<600).map { UInt8(truncatingIfNeeded: $0) }
        var response = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        response += Array("19000\r\n".utf8) + big + Array("\r\n".utf8)
        for start in stride(from: 0, to: small.count, by: 3) {
            response += Array("3\r\n".utf8) + small[start..<start + 3] + Array("\r\n".utf8)
        }
        response += Array("0\r\n\r\n".utf8)
        let pieces = response
        let server = try LoopbackServer(pieceSize: 1000) { _, _ in pieces }
        defer { server.stop() }
        #expect(try HTTPClient(timeout: 20).get(url(server)).body == big + small)
    }

    @Test("a body that ends with the connection")
    func untilClose() throws {
        let server = try LoopbackServer { _, _ in Array("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it".utf8) }
        defer { server.stop() }
        #expect(try client.get(url(server)).body == Array("all of it".utf8))
    }

    @Test("any status but 200 is an error naming it; redirects are not followed")
    func statuses() throws {
        let server = try LoopbackServer { index, _ in
            index == 0
                ? LoopbackServer.response("404 Not Found", body: Array("404 page not found\n".utf8))
                : LoopbackServer.response("302 Found", headers: ["Location: /elsewhere"])
        }
        defer { server.stop() }
        let notFound = try #require(throws: HTTPError.self) { try client.get(url(server)) }
        #expect(notFound.description == "HTTP 404 Not Found")
        let redirect = try #require(throws: HTTPError.self) { try client.get(url(server)) }
        #expect(redirect.description == "HTTP 302 Found (redirect to /elsewhere, not followed)")
        #expect(server.requests.count == 2)
    }

    @Test("nothing listening: connection refused")
    func refused() throws {
        let port = try LoopbackServer.closedPort()
        let error = try #require(throws: HTTPError.self) { try client.get(HTTPURL("http://127.0.0.1:\(port)/")) }
        #expect(error == .connectionRefused)
        #expect(error.description == "connection refused")
    }

    @Test("a server that accepts and never answers: timed out, within the timeout")
    func timeout() throws {
        let server = try LoopbackServer(respond: nil)
        defer { server.stop() }
        let start = Date()
        let error = try #require(throws: HTTPError.self) { try HTTPClient(timeout: 0.3).get(url(server)) }
        #expect(error.description == "timed out after 0.3s")
        #expect(Date().timeIntervalSince(start) < 2)
    }

    @Test("garbage, early ends and oversized bodies are errors, not traps")
    func broken() throws {
        let responses: [[UInt8]] = [
            Array("SSH-2.0-OpenSSH_9.2\r\n\r\n".utf8),
            Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort".utf8),
            Array("HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n".utf8),
            Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8),
            Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n".utf8),
            Array("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n".utf8),
            LoopbackServer.response("200 OK", body: [UInt8](repeating: 1, count: 5000)),
            Array("HTTP/1.1 200 OK\r\n".utf8) + [UInt8](repeating: 0x41, count: 20_000),
            [],
        ]
        let server = try LoopbackServer { index, _ in responses[index % responses.count] }
        defer { server.stop() }
        let small = HTTPClient(timeout: 2, maximumBodySize: 1000)
        var messages: [String] = []
        for _ in responses {
            let error = try #require(throws: HTTPError.self) { try small.get(url(server)) }
            messages.append(error.description)
        }
        #expect(
            messages == [
                "not an HTTP response: status line \"SSH-2.0-OpenSSH_9.2\"",
                "the connection closed before the response was complete",
                "not an HTTP response: Content-Length -4 is not a number",
                "not an HTTP response: chunk size \"zz\"",
                "not an HTTP response: chunk size \"FFFFFFFFFFFFFFFFFFFF\"",
                "not an HTTP response: unrequested Content-Encoding gzip",
                "the response is larger than \(Units.formatBytes(UInt64(1000)))",
                "not an HTTP response: a line longer than 16 KiB",
                "the connection closed before the response was complete",
            ])
    }
}
