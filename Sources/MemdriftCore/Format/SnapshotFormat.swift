/// Constants of the snapshot file format; docs/FORMAT.md is the specification.
public enum SnapshotFormat {
    /// The newest format version this reader understands (and the encoder writes). Version 2 adds
    /// snapshots that carry only what changed since the previous one of their series (deltas).
    public static let version: UInt32 = 2
    public static let magic: [UInt8] = Array("MDRIFTSN".utf8)
    public static let trailerMagic: [UInt8] = Array("MDRIFTND".utf8)
    /// Fixed header size of version 1; newer versions may have a larger header.
    public static let headerBytes = 96
    /// Magic, total length and checksum.
    public static let trailerBytes = 24
    /// File name extension of snapshot files.
    public static let fileExtension = "mds"

    /// Section kinds.
    public enum Section: UInt32 {
        case process = 1, figures, modules, stacks, mapped, sourceFrames, sourceSplices
    }

    /// FNV-1a 64 over the bytes, as the trailer's checksum.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01B3
        }
        return h
    }
}
