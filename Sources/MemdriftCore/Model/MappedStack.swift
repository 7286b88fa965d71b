/// What one call stack holds in mappings the program made itself (mmap, mremap, mprotect).
///
/// Only writable mappings count: anonymous ones, shared or private, and private file mappings.
/// Bytes count from the moment they are mapped or made writable, resident or not.
public struct MappedStack: Sendable, Hashable {
    /// The stack's id, as in the snapshot's `stacks`.
    public var stackID: UInt32
    /// Writable mapped bytes the stack holds now.
    public var liveBytes: UInt64
    /// Separate writable ranges the stack holds now; a partial munmap can leave two of one mapping.
    public var liveCount: UInt64
    /// Bytes the stack mapped or made writable since the tracker started.
    public var mappedBytes: UInt64
    /// Calls that mapped or made writable those bytes.
    public var mappedCount: UInt64

    /// Creates a record of one stack's mapped memory.
    public init(stackID: UInt32, liveBytes: UInt64, liveCount: UInt64, mappedBytes: UInt64, mappedCount: UInt64) {
        self.stackID = stackID
        self.liveBytes = liveBytes
        self.liveCount = liveCount
        self.mappedBytes = mappedBytes
        self.mappedCount = mappedCount
    }
}
