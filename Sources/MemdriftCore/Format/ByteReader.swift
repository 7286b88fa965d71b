/// Bounds-checked little-endian reads over a byte buffer; every failure is a `FormatError`.
struct ByteReader {
    let bytes: [UInt8]
    let path: String
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], path: String, offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.path = path
        self.offset = offset
        self.end = end ?? bytes.count
    }

    var remaining: Int { end - offset }

    mutating func need(_ n: Int) throws(FormatError) {
        guard n >= 0, n <= remaining else { throw .truncated(path: path, offset: offset, needed: n - remaining) }
    }

    mutating func skip(_ n: Int) throws(FormatError) {
        try need(n)
        offset += n
    }

    mutating func bytes(_ n: Int) throws(FormatError) -> ArraySlice<UInt8> {
        try need(n)
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    mutating func u16() throws(FormatError) -> UInt16 { try integer(UInt16.self) }
    mutating func u32() throws(FormatError) -> UInt32 { try integer(UInt32.self) }
    mutating func u64() throws(FormatError) -> UInt64 { try integer(UInt64.self) }
    mutating func i32() throws(FormatError) -> Int32 { Int32(bitPattern: try u32()) }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(FormatError) -> T {
        let size = MemoryLayout<T>.size
        try need(size)
        let at = offset
        offset += size
        return bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
    }

    /// An unsigned LEB128 integer: 7-bit groups, low first, the high bit set on all but the last.
    mutating func uvarint() throws(FormatError) -> UInt64 {
        let at = offset
        var value: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 64, by: 7) {
            try need(1)
            let byte = bytes[offset]
            offset += 1
            guard shift < 63 || byte <= 1 else { break }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
        }
        throw .corrupt(path: path, offset: at, detail: "integer longer than 64 bits")
    }

    mutating func string(_ n: Int) throws(FormatError) -> String {
        String(decoding: try bytes(n), as: UTF8.self)
    }

    /// A count of records that must each take at least `minimumBytes`, checked against what is left.
    mutating func count(minimumBytes: Int, what: String) throws(FormatError) -> Int {
        let at = offset
        let n = Int(try u32())
        guard n.multipliedReportingOverflow(by: minimumBytes).partialValue <= remaining, n <= remaining else {
            throw .corrupt(path: path, offset: at, detail: "\(what) count \(n) does not fit the section")
        }
        return n
    }
}
