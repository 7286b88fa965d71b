import Foundation
import MemdriftPprof

/// A leaky server's heap: `cache_insert` (in a plugin) holds most live bytes, while `xstrdup`,
/// inlined into `handle_request`, allocated the most bytes overall but freed nearly all of them.
enum PprofFixture {
    static let mainBuildID = "4f3c2a1b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
    static let pluginBuildID = "0123456789abcdef0123456789abcdef01234567"
    static let mib: Int64 = 1 << 20

    static let profile = PprofProfile.heap(
        samples: [
            // cache_insert <- handle_request: 7 MiB still live.
            .heap(
                locationIDs: [1, 3], allocObjects: 900, allocBytes: 8 * mib, inuseObjects: 800, inuseBytes: 7 * mib,
                labels: ["thread": "worker-1"], numericLabels: ["bytes": .init(8192, unit: "bytes")]),
            // xstrdup (inlined) <- handle_request: 24 MiB allocated, 1 MiB live.
            .heap(
                locationIDs: [2], allocObjects: 12_000, allocBytes: 24 * mib, inuseObjects: 500, inuseBytes: 1 * mib),
            // handle_request itself: 2 MiB allocated and live.
            .heap(
                locationIDs: [3], allocObjects: 40, allocBytes: 2 * mib, inuseObjects: 40, inuseBytes: 2 * mib),
        ],
        mappings: [
            .init(
                id: 1, start: 0x40_0000, limit: 0x50_0000, fileOffset: 0, filename: "/usr/bin/leaky-server",
                buildID: mainBuildID, hasFunctions: true, hasFilenames: true, hasLineNumbers: true,
                hasInlineFrames: true),
            .init(
                id: 2, start: 0x7f00_0000_0000, limit: 0x7f00_0010_0000, fileOffset: 0x1000,
                filename: "/opt/leaky/libleaky-plugin.so", buildID: pluginBuildID, hasFunctions: true,
                hasFilenames: true, hasLineNumbers: true, hasInlineFrames: true),
        ],
        locations: [
            .init(id: 1, mappingID: 2, address: 0x7f00_0000_1234, lines: [.init(functionID: 1, line: 42)]),
            // Inlined callee first, caller last.
            .init(
                id: 2, mappingID: 1, address: 0x40_1234,
                lines: [.init(functionID: 3, line: 17), .init(functionID: 2, line: 88)]),
            .init(id: 3, mappingID: 1, address: 0x40_1500, lines: [.init(functionID: 2, line: 95)]),
        ],
        functions: [
            .init(id: 1, name: "cache_insert", filename: "src/plugin/cache.c", startLine: 40),
            .init(id: 2, name: "handle_request", filename: "src/server.c", startLine: 80),
            .init(id: 3, name: "xstrdup", filename: "src/util.h", startLine: 15),
        ],
        timeNanos: 1_700_000_000_000_000_000, durationNanos: 30_000_000_000,
        comments: ["memdrift fixture"])
}

/// One field of a protobuf message as read off the wire.
enum WireValue: Equatable {
    case varint(UInt64)
    case bytes([UInt8])
}

struct WireError: Error, CustomStringConvertible {
    let description: String
}

/// Reads protobuf wire format without a schema: just enough to check what the encoder wrote.
enum WireReader {
    static func fields(_ data: [UInt8]) throws -> [(field: UInt64, value: WireValue)] {
        var fields: [(field: UInt64, value: WireValue)] = []
        var position = 0
        while position < data.count {
            let key = try varint(data, &position)
            switch key & 7 {
            case 0:
                fields.append((key >> 3, .varint(try varint(data, &position))))
            case 2:
                let length = Int(try varint(data, &position))
                guard length <= data.count - position else { throw WireError(description: "field runs past end") }
                fields.append((key >> 3, .bytes(Array(data[position..<position + length]))))
                position += length
            default:
                throw WireError(description: "unexpected wire type \(key & 7)")
            }
        }
        return fields
    }

    static func varint(_ data: [UInt8], _ position: inout Int) throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < data.count, shift < 64 {
            let byte = data[position]
            position += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        throw WireError(description: "truncated varint")
    }

    /// Accepts both packed and one-per-field encodings, as any protobuf reader must.
    static func repeatedVarints(_ values: [WireValue]) throws -> [UInt64] {
        var out: [UInt64] = []
        for value in values {
            switch value {
            case .varint(let v): out.append(v)
            case .bytes(let packed):
                var position = 0
                while position < packed.count { out.append(try varint(packed, &position)) }
            }
        }
        return out
    }
}

/// A decoded message: field number to every value it had, in order.
struct WireMessage {
    let fields: [UInt64: [WireValue]]

    init(_ data: [UInt8]) throws {
        fields = Dictionary(grouping: try WireReader.fields(data), by: \.field).mapValues { $0.map(\.value) }
    }

    func all(_ field: UInt64) -> [WireValue] { fields[field] ?? [] }

    func uint(_ field: UInt64) throws -> UInt64 {
        switch all(field).last {
        case nil: return 0
        case .varint(let v): return v
        case .bytes: throw WireError(description: "field \(field) is not a varint")
        }
    }

    func int(_ field: UInt64) throws -> Int64 { Int64(bitPattern: try uint(field)) }

    func messages(_ field: UInt64) throws -> [WireMessage] {
        try all(field).map {
            guard case .bytes(let b) = $0 else { throw WireError(description: "field \(field) is not a message") }
            return try WireMessage(b)
        }
    }

    func strings(_ field: UInt64) throws -> [String] {
        try all(field).map {
            guard case .bytes(let b) = $0 else { throw WireError(description: "field \(field) is not a string") }
            return String(decoding: b, as: UTF8.self)
        }
    }
}
