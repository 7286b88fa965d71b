/// Reads protobuf wire-format fields from one message within a byte buffer.
///
/// Every read is bounds-checked against the message's end and throws rather than traps, so any
/// bytes at all can be fed to it. Offsets in errors count from the start of the whole buffer.
struct PprofWireReader {
    /// The wire types protobuf defines; groups (3, 4) are deprecated and profile.proto has none.
    enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case startGroup = 3
        case endGroup = 4
        case fixed32 = 5
    }

    /// A field's key: its number, its wire type, and where it starts.
    struct Key {
        let field: UInt64
        let type: WireType
        let offset: Int
    }

    private let bytes: [UInt8]
    private(set) var position: Int
    private let end: Int

    /// A reader of the whole buffer as one message.
    init(_ bytes: [UInt8]) {
        self.init(bytes, from: 0, to: bytes.count)
    }

    private init(_ bytes: [UInt8], from start: Int, to end: Int) {
        self.bytes = bytes
        self.position = start
        self.end = end
    }

    /// The next field's key, or nil at the end of the message.
    mutating func nextKey() throws(PprofError) -> Key? {
        guard position < end else { return nil }
        let offset = position
        let key = try varint()
        let number = key >> 3
        guard number != 0 else { throw .malformed(offset: offset, detail: "field number 0") }
        guard let type = WireType(rawValue: key & 7) else {
            throw .malformed(offset: offset, detail: "field \(number) has invalid wire type \(key & 7)")
        }
        return Key(field: number, type: type, offset: offset)
    }

    /// A base-128 varint of at most ten bytes.
    mutating func varint() throws(PprofError) -> UInt64 {
        let start = position
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < end {
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw .malformed(offset: start, detail: "varint overflows 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        throw .truncated(offset: start)
    }

    /// The bytes of a length-delimited field, as a range of the buffer.
    mutating func lengthDelimited() throws(PprofError) -> Range<Int> {
        let start = position
        let length = try varint()
        guard length <= UInt64(end - position) else { throw .truncated(offset: start) }
        let range = position..<position + Int(length)
        position = range.upperBound
        return range
    }

    /// A reader of the embedded message this length-delimited field holds.
    mutating func message() throws(PprofError) -> PprofWireReader {
        let range = try lengthDelimited()
        return PprofWireReader(bytes, from: range.lowerBound, to: range.upperBound)
    }

    /// A string field; invalid UTF-8 is repaired with replacement characters rather than refused.
    mutating func string() throws(PprofError) -> String {
        let range = try lengthDelimited()
        return String(decoding: bytes[range], as: UTF8.self)
    }

    /// Skips the value of a field this reader does not use.
    mutating func skip(_ key: Key) throws(PprofError) {
        switch key.type {
        case .varint: _ = try varint()
        case .lengthDelimited: _ = try lengthDelimited()
        case .fixed64: try advance(8, from: key.offset)
        case .fixed32: try advance(4, from: key.offset)
        case .startGroup, .endGroup:
            throw .malformed(offset: key.offset, detail: "field \(key.field) is a group, which profile.proto never uses")
        }
    }

    private mutating func advance(_ count: Int, from offset: Int) throws(PprofError) {
        guard count <= end - position else { throw .truncated(offset: offset) }
        position += count
    }

    /// A scalar field (uint64, int64, bool), which must be a varint.
    mutating func scalar(_ key: Key, _ name: StaticString) throws(PprofError) -> UInt64 {
        try expect(key, .varint, name)
        return try varint()
    }

    /// A signed scalar: int64 is the two's complement bit pattern, not zigzag, in profile.proto.
    mutating func signed(_ key: Key, _ name: StaticString) throws(PprofError) -> Int64 {
        Int64(bitPattern: try scalar(key, name))
    }

    /// An embedded message field.
    mutating func message(_ key: Key, _ name: StaticString) throws(PprofError) -> PprofWireReader {
        try expect(key, .lengthDelimited, name)
        return try message()
    }

    /// Appends a repeated varint field's values: packed (one length-delimited run) or one per key,
    /// both of which a reader must accept (Go's runtime writes short runs unpacked).
    mutating func repeatedScalars(_ key: Key, _ name: StaticString, into values: inout [UInt64]) throws(PprofError) {
        switch key.type {
        case .varint:
            values.append(try varint())
        case .lengthDelimited:
            var run = try message()
            while run.position < run.end { values.append(try run.varint()) }
        default:
            throw wrongType(key, name, expected: "0 or 2")
        }
    }

    private func expect(_ key: Key, _ type: WireType, _ name: StaticString) throws(PprofError) {
        guard key.type == type else { throw wrongType(key, name, expected: "\(type.rawValue)") }
    }

    private func wrongType(_ key: Key, _ name: StaticString, expected: String) -> PprofError {
        .malformed(
            offset: key.offset, detail: "field \(key.field) (\(name)) has wire type \(key.type.rawValue), expected \(expected)")
    }
}
