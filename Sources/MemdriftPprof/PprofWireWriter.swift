/// Appends protobuf wire-format fields to one growing byte buffer.
///
/// Scalars equal to zero are left out, as proto3 does: a reader sees the same default either way.
struct PprofWireWriter {
    private(set) var bytes: [UInt8] = []

    private enum WireType: UInt64 {
        case varint = 0
        case lengthDelimited = 2
    }

    mutating func uint64(_ field: UInt64, _ value: UInt64) {
        guard value != 0 else { return }
        key(field, .varint)
        varint(value)
    }

    /// Negative values take ten bytes: int64 is not zigzag-encoded in profile.proto.
    mutating func int64(_ field: UInt64, _ value: Int64) {
        uint64(field, UInt64(bitPattern: value))
    }

    mutating func bool(_ field: UInt64, _ value: Bool) {
        uint64(field, value ? 1 : 0)
    }

    /// Always written, even when empty: a repeated string's entries are positional.
    mutating func bytes(_ field: UInt64, _ value: String.UTF8View) {
        key(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func packedUInt64(_ field: UInt64, _ values: [UInt64]) {
        guard !values.isEmpty else { return }
        key(field, .lengthDelimited)
        delimited { writer in
            for value in values { writer.varint(value) }
        }
    }

    mutating func packedInt64(_ field: UInt64, _ values: [Int64]) {
        guard !values.isEmpty else { return }
        key(field, .lengthDelimited)
        delimited { writer in
            for value in values { writer.varint(UInt64(bitPattern: value)) }
        }
    }

    /// Always written, even when empty: an empty element of a repeated message still counts.
    mutating func message(_ field: UInt64, _ body: (inout PprofWireWriter) -> Void) {
        key(field, .lengthDelimited)
        delimited(body)
    }

    private mutating func key(_ field: UInt64, _ type: WireType) {
        varint(field << 3 | type.rawValue)
    }

    private mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: rest))
    }

    /// Writes the body in place behind a one-byte length guess, widening the length only when
    /// the body reaches 128 bytes; most pprof messages are shorter, so nothing moves.
    private mutating func delimited(_ body: (inout PprofWireWriter) -> Void) {
        let lengthAt = bytes.count
        bytes.append(0)
        body(&self)
        let length = bytes.count - lengthAt - 1
        if length < 0x80 {
            bytes[lengthAt] = UInt8(truncatingIfNeeded: length)
        } else {
            var prefix = PprofWireWriter()
            prefix.varint(UInt64(length))
            bytes.replaceSubrange(lengthAt...lengthAt, with: prefix.bytes)
        }
    }
}

/// The profile's string table: each distinct string once, with "" at index 0 as pprof requires.
struct PprofStringTable {
    private(set) var strings: [String] = [""]
    private var indices: [Key: Int64] = [Key(""): 0]

    /// Swift's `==` on strings is Unicode canonical equivalence; pprof compares bytes, so two
    /// spellings that differ in bytes must keep their own entries.
    private struct Key: Hashable {
        let string: String

        init(_ string: String) { self.string = string }

        static func == (lhs: Key, rhs: Key) -> Bool {
            lhs.string.utf8.elementsEqual(rhs.string.utf8)
        }

        func hash(into hasher: inout Hasher) {
            let hashed: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
            if hashed == nil {
                for byte in string.utf8 { hasher.combine(byte) }
            }
            hasher.combine(string.utf8.count)
        }
    }

    mutating func index(_ string: String) -> Int64 {
        let key = Key(string)
        if let found = indices[key] { return found }
        let index = Int64(strings.count)
        strings.append(string)
        indices[key] = index
        return index
    }
}
